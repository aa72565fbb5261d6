package bpfcompile

// nodeRoom is room for the nodes most short filters are made of, which
// the code generator lends the parser (the tree lives no longer than the
// generator): a node taken from it is an allocation less. The parser
// allocates the nodes past it. (The typical filters take at most 3
// identifiers, 2 binary nodes, 2 protocol names and 1 "not".)
type nodeRoom struct {
	ids                     [4]IDNode
	bins                    [2]BinaryNode
	protos                  [2]ProtoNode
	nots                    [1]NotNode
	nid, nbin, nproto, nnot uint8
}

// inRoom returns a copy of n in the next free place of room (used counts
// the places taken), or on the heap once the room is full.
func inRoom[T any](room []T, used *uint8, n T) *T {
	if int(*used) >= len(room) {
		return onHeap(n)
	}
	p := &room[*used]
	*used++
	*p = n
	return p
}

// onHeap returns a copy of n on the heap (&n would move every n there,
// those copied into the room too).
func onHeap[T any](n T) *T {
	p := new(T)
	*p = n
	return p
}

// idNode returns a copy of n in the room, or on the heap.
func (ps *parser) idNode(n IDNode) *IDNode {
	if r := ps.nodes; r != nil {
		return inRoom(r.ids[:], &r.nid, n)
	}
	return onHeap(n)
}

// binaryNode returns a copy of n in the room, or on the heap.
func (ps *parser) binaryNode(n BinaryNode) *BinaryNode {
	if r := ps.nodes; r != nil {
		return inRoom(r.bins[:], &r.nbin, n)
	}
	return onHeap(n)
}

// protoNode returns a copy of n in the room, or on the heap.
func (ps *parser) protoNode(n ProtoNode) *ProtoNode {
	if r := ps.nodes; r != nil {
		return inRoom(r.protos[:], &r.nproto, n)
	}
	return onHeap(n)
}

// notNode returns a copy of n in the room, or on the heap.
func (ps *parser) notNode(n NotNode) *NotNode {
	if r := ps.nodes; r != nil {
		return inRoom(r.nots[:], &r.nnot, n)
	}
	return onHeap(n)
}
