package bpfcompile

// genNode generates code for a node of the syntax tree, operands in
// source order (the order libpcap's parser generates them, which fixes
// the scratch registers used).
func (g *gen) genNode(n Node) *frag {
	g.off = n.Pos()
	switch n := n.(type) {
	case *BinaryNode:
		a := g.genNode(n.X)
		b := g.genNode(n.Y)
		if n.Op == "and" {
			return g.and(a, b)
		}
		return g.or(a, b)
	case *NotNode:
		return g.not(g.genNode(n.X))
	case *IDNode:
		return g.genID(n)
	case *ProtoNode:
		return g.protoAbbrev(n.Proto)
	case *RelNode:
		return g.genRelation(n)
	case *OtherNode:
		return g.genOther(n)
	}
	g.errorf("internal error: node %T", n)
	return nil
}
