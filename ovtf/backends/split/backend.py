"""The SPLIT backend: what a `SPLIT:` name builds, and how it decides to split or not.

`SplitFamily` plugs the grammar (`grammar.py`) into the backend registry. `SplitBackend` runs
what every member supports (`ocm.chain` of the members' supports), and compiles each cluster
signature one of two ways: split by rows over the members (`executor.SplitExecutable`) when
the cluster is batch-separable (`separability.batch_separable`), else whole on one member,
the first that compiles (the reason is logged once per backend and cluster). It owns what
the signatures of one backend share: the worker pool and one `Balancer` per cluster and set
of members.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from ovtf import backends
from ovtf import counters as _counters
from ovtf.backends import Backend, BackendError, BackendFamily, Executable
from ovtf.backends.split.balancer import Balancer
from ovtf.backends.split.executor import SplitExecutable, WholeBatchExecutable
from ovtf.backends.split.grammar import PREFIX, canonical_split_name, member_names
from ovtf.backends.split.separability import batch_separable
from ovtf.once import Once

__all__ = ["SplitFamily", "SplitBackend"]

logger = logging.getLogger("ovtf")

_not_split_notices = Once()


class SplitFamily(BackendFamily):
    def canonical_name(self, name: str) -> str | None:
        return canonical_split_name(name)

    def names(self) -> list:
        return []

    def create(self, canonical: str) -> Backend:
        return SplitBackend(member_names(canonical))


class SplitBackend(Backend):
    """One batch over several member backends (`member_names`, canonical, in order)."""

    def __init__(self, members):
        self.member_names = tuple(members)
        self.name = PREFIX + ",".join(self.member_names)
        self._pool = None
        self._lock = threading.Lock()
        self._balancers: dict = {}

    def members(self) -> list:
        return [backends.get(name) for name in self.member_names]

    def operator_support(self):
        from ovtf import ocm
        # StaticCompiles: each compile gets static shapes (a batch is sliced by its size)
        return ocm.chain(*(member.operator_support() for member in self.members()),
                         ocm.rules.StaticCompiles(), target=self.name)

    def weights_as_constants(self) -> bool:
        return all(member.weights_as_constants() for member in self.members())

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=max(1, len(self.member_names) - 1),
                    thread_name_prefix="ovtf-split")
            return self._pool

    def balancer(self, spec, members) -> Balancer:
        key = (spec.fingerprint, tuple(id(member) for member in members))
        with self._lock:
            balancer = self._balancers.get(key)
            if balancer is None:
                balancer = self._balancers[key] = Balancer(
                    [member.name for member in members], f"{self.name} cluster {spec.name}")
            return balancer

    def compile(self, spec, input_shapes, constants, precision) -> Executable:
        members = self.members()
        separable, reason, batched = batch_separable(spec, input_shapes, constants)
        if not separable:
            if _not_split_notices.first((self.name, spec.fingerprint)):
                logger.info("ovtf: %s: cluster %s runs whole on one member, not split: %s",
                            self.name, spec.name, reason)
            return self._whole(members, spec, input_shapes, constants, precision)
        return SplitExecutable(self, members, spec, input_shapes, constants, precision,
                               batched, self.balancer(spec, members))

    def _whole(self, members, spec, input_shapes, constants, precision):
        errors = []
        data = [i for i in range(len(spec.inputs))
                if i not in constants and not spec.inputs[i].is_variable and input_shapes[i]]
        for member in members:
            try:
                executable = member.compile(spec, input_shapes, constants, precision)
                return WholeBatchExecutable(member.name, executable, data[:1])
            except Exception as error:
                errors.append(f"{member.name}: {error}")
                _counters.record_device(member.name, 0, 0.0, failed=True)
                _counters.increment("split_member_failures")
                logger.warning("ovtf: %s: member %s cannot compile cluster %s (%s); trying the "
                               "next member", self.name, member.name, spec.name, error)
        raise BackendError("compile", f"{self.name}: no member compiled cluster {spec.name}: "
                                      + "; ".join(errors))

    def __repr__(self) -> str:
        return f"<SplitBackend {self.name}>"
