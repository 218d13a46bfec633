"""Incremental cycle detection for edge contraction (Pearce & Kelly's dynamic topological order).

The partitioner grows clusters by contracting edges of the graph: merging the two ends of
an edge into one node. A contraction is legal when the graph stays acyclic, i.e. when there
is no *other* path from the edge's source to its target (such a path would run through a
node outside the cluster, which would then have to run both before and after the cluster).

We keep a topological rank for every live node. Checking "is b reachable from a" only needs
a depth-first search through nodes ranked between a and b. Merging b into a moves b's edges
to a; an in-edge p->a that now violates the order is repaired by Pearce-Kelly reordering of
just the affected region. This is the approach TensorFlow's XLA clustering uses
(GraphCycles); the code here is our own.
"""

from __future__ import annotations


class GraphCycles:
    def __init__(self, order_of_nodes: int):
        """Nodes 0..n-1, whose ids must already be a topological order of the edges added."""
        count = order_of_nodes
        self.rank = list(range(count))
        self.out = [set() for _ in range(count)]
        self.inn = [set() for _ in range(count)]
        self.alive = [True] * count

    def add_edge(self, x: int, y: int) -> bool:
        """Add x->y; False (and no change) if that would close a cycle."""
        if x == y:
            return False
        if y in self.out[x]:
            return True
        self.out[x].add(y)
        self.inn[y].add(x)
        if self.rank[x] < self.rank[y]:
            return True
        forward = self._forward(y, self.rank[x])
        if forward is None:
            self.out[x].discard(y)
            self.inn[y].discard(x)
            return False
        backward = self._backward(x, self.rank[y])
        self._reorder(forward, backward)
        return True

    def is_reachable(self, a: int, b: int) -> bool:
        if a == b:
            return True
        if self.rank[a] > self.rank[b]:
            return False
        limit = self.rank[b]
        stack, seen = [a], {a}
        while stack:
            node = stack.pop()
            for nxt in self.out[node]:
                if nxt == b:
                    return True
                if nxt not in seen and self.rank[nxt] < limit:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    def contract(self, a: int, b: int):
        """Merge the ends of edge a->b into one node; returns the survivor, or None (cycle)."""
        if b not in self.out[a]:
            raise ValueError("contract() needs an edge a->b")
        self.out[a].discard(b)
        self.inn[b].discard(a)
        if self.is_reachable(a, b):
            self.out[a].add(b)
            self.inn[b].add(a)
            return None
        # b's successors rank above b > a: a->s keeps the order. b's predecessors p rank
        # below b but maybe above a; add_edge reorders, and can't fail: a path a ~> p would
        # have made b reachable from a.
        successors, predecessors = self.out[b], self.inn[b]
        self.out[b], self.inn[b] = set(), set()
        for s in successors:
            self.inn[s].discard(b)
        for p in predecessors:
            self.out[p].discard(b)
        self.alive[b] = False
        for s in successors:
            self.add_edge(a, s)
        for p in predecessors:
            added = self.add_edge(p, a)
            assert added, "contraction created a cycle"
        return a

    # --- Pearce-Kelly helpers ---------------------------------------------------------------

    def _forward(self, start: int, upper: int):
        """Nodes reachable from start with rank < upper; None if a node of rank upper is hit."""
        stack, seen = [start], {start}
        while stack:
            node = stack.pop()
            for nxt in self.out[node]:
                if self.rank[nxt] == upper:
                    return None
                if nxt not in seen and self.rank[nxt] < upper:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def _backward(self, start: int, lower: int):
        stack, seen = [start], {start}
        while stack:
            node = stack.pop()
            for prev in self.inn[node]:
                if prev not in seen and self.rank[prev] > lower:
                    seen.add(prev)
                    stack.append(prev)
        return seen

    def _reorder(self, forward, backward) -> None:
        nodes = sorted(backward, key=self.rank.__getitem__) + sorted(forward, key=self.rank.__getitem__)
        ranks = sorted(self.rank[n] for n in nodes)
        for node, rank in zip(nodes, ranks):
            self.rank[node] = rank
