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

// idNode returns a copy of n in the room, or on the heap.
func (ps *parser) idNode(n IDNode) *IDNode {
	if r := ps.nodes; r != nil && int(r.nid) < len(r.ids) {
		p := &r.ids[r.nid]
		r.nid++
		*p = n
		return p
	}
	p := new(IDNode)
	*p = n
	return p
}

// binaryNode returns a copy of n in the room, or on the heap.
func (ps *parser) binaryNode(n BinaryNode) *BinaryNode {
	if r := ps.nodes; r != nil && int(r.nbin) < len(r.bins) {
		p := &r.bins[r.nbin]
		r.nbin++
		*p = n
		return p
	}
	p := new(BinaryNode)
	*p = n
	return p
}

// protoNode returns a copy of n in the room, or on the heap.
func (ps *parser) protoNode(n ProtoNode) *ProtoNode {
	if r := ps.nodes; r != nil && int(r.nproto) < len(r.protos) {
		p := &r.protos[r.nproto]
		r.nproto++
		*p = n
		return p
	}
	p := new(ProtoNode)
	*p = n
	return p
}

// notNode returns a copy of n in the room, or on the heap.
func (ps *parser) notNode(n NotNode) *NotNode {
	if r := ps.nodes; r != nil && int(r.nnot) < len(r.nots) {
		p := &r.nots[r.nnot]
		r.nnot++
		*p = n
		return p
	}
	p := new(NotNode)
	*p = n
	return p
}
