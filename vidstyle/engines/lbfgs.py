"""L-BFGS whose bookkeeping stays on the device: no host sync per step.

The optimizer calls ``torch.optim.LBFGS(max_iter=1, lr=1, line_search_fn=None,
history_size=50, tolerance_grad=0, tolerance_change=0)`` once per iteration:
one loss evaluation, one two-loop recursion (Nocedal & Wright, "Numerical
Optimization", algorithm 7.4), one step of size 1. torch's implementation
reads device scalars back to the host several times per step: ``float(loss)``,
the curvature test ``ys > 1e-10``, the descent test ``gtd > -tolerance``, the
first step size ``min(1, 1/|g|_1)``, and every ``add_(..., alpha=tensor)`` of
the two loops (two per history pair, up to 100 per step). On a GPU each read
waits for all queued work, so the step runs in lock-step with the host.

``DeviceLBFGS`` computes the same iterates with every scalar left on the
device; ``step`` returns the loss tensor and the caller reads it once per
iteration (the stopping rule needs it anyway). Where torch branches on a
device scalar this uses ``torch.where``:

- a curvature pair failing ``ys > 1e-10`` is stored with ``rho = 0``, which
  makes it a no-op in both loops (its ``alpha`` and ``beta`` are 0), and the
  initial Hessian scale keeps its old value, as torch does. Departure: torch
  drops such a pair while this keeps it as a no-op slot, so after a rejection
  the history holds one useful pair fewer until that slot is evicted. The
  iterates are identical while no pair is rejected (ys <= 1e-10 means the
  loss is not convex along the last step; rare on these losses).
- a direction that is not a descent direction (``g.d > 0``) is not followed
  (step 0) but, as in torch, remembered as if it had been, so the next pair
  gets ``y = 0`` and is rejected.
- the first step is ``min(1, 1/|g|_1)`` along ``-g``, as in torch, unless
  ``first_step_max`` asks for a step that moves the largest element by that
  much (reduced precision needs a first step it can measure: see
  ``optimize.FIRST_STEP_MAX``).
- torch's early return when the gradient is exactly zero is not reproduced:
  a zero gradient gives a zero direction, so the step changes nothing.

Only one tensor parameter (the image being optimized) is supported.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CURVATURE_EPS = 1e-10  # torch.optim.LBFGS's test for a usable curvature pair: y.s > this


class DeviceLBFGS:
    """L-BFGS on one tensor, one iteration per ``step``, no line search.

    Args:
        param: the tensor being optimized (``requires_grad``); updated in place.
        lr: step length (1 in the references: the two-loop direction is
            already scaled by the curvature estimate).
        history_size: curvature pairs kept; each pair is two copies of ``param``.
        first_step_max: None: torch's first step, ``min(1, 1/|g|_1) * lr``
            along ``-g``; a number: a first step that moves the element with
            the largest gradient by this much.
        max_step: None: every later step as L-BFGS sizes it; a number: no
            element moves by more than this in one step (the step is
            shortened along its direction: a trust region in the max norm).

    ``step(closure)`` calls ``closure()`` (which zeroes the gradient, computes
    the loss, calls ``backward`` and returns the loss), then moves ``param``
    along the L-BFGS direction. It returns the closure's loss, the loss at the
    point before the move, as ``torch.optim.LBFGS.step`` does.
    """

    def __init__(
        self,
        param: torch.Tensor,
        *,
        lr: float = 1.0,
        history_size: int = 50,
        first_step_max: float | None = None,
        max_step: float | None = None,
    ):
        if not isinstance(param, torch.Tensor) or not param.requires_grad:
            raise ValueError("DeviceLBFGS optimizes one tensor that requires grad")
        if history_size < 1:
            raise ValueError(f"history_size must be positive, got {history_size}")
        self.param = param
        self.lr = float(lr)
        self.history_size = history_size
        self.first_step_max = first_step_max
        self.max_step = max_step
        self.num_iters = 0
        self._dirs: list[torch.Tensor] = []  # y_k = g_{k+1} - g_k
        self._steps: list[torch.Tensor] = []  # s_k = t_k d_k
        self._rhos: list[torch.Tensor] = []  # 1 / (y_k . s_k), 0 for a rejected pair
        self._h_diag: torch.Tensor | None = None  # initial inverse-Hessian scale (y.s / y.y)
        self._direction: torch.Tensor | None = None
        self._step_size: torch.Tensor | None = None
        self._prev_grad: torch.Tensor | None = None

    def zero_grad(self, set_to_none: bool = True) -> None:
        if set_to_none:
            self.param.grad = None
        elif self.param.grad is not None:
            self.param.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        grad = self.param.grad
        if grad is None:
            raise RuntimeError("the closure did not compute a gradient for the optimized tensor")
        flat_grad = grad.reshape(-1)
        self.num_iters += 1
        if self.num_iters == 1:
            direction = flat_grad.neg()
            self._h_diag = torch.ones((), dtype=flat_grad.dtype, device=flat_grad.device)
            if self.first_step_max is None:
                # torch: t = min(1, 1/|g|_1) * lr for the very first step.
                step_size = torch.clamp(flat_grad.abs().sum().reciprocal(), max=1.0) * self.lr
            else:
                step_size = self.first_step_max / flat_grad.abs().amax().clamp(min=torch.finfo(flat_grad.dtype).tiny)
        else:
            direction = self._two_loop(flat_grad)
            step_size = torch.full((), self.lr, dtype=flat_grad.dtype, device=flat_grad.device)
            if self.max_step is not None:
                largest = direction.abs().amax().clamp(min=torch.finfo(flat_grad.dtype).tiny)
                step_size = torch.minimum(step_size, self.max_step / largest)
        if self._prev_grad is None:
            self._prev_grad = flat_grad.clone(memory_format=torch.contiguous_format)
        else:
            self._prev_grad.copy_(flat_grad)
        # Not a descent direction: torch breaks out before moving (tolerance_change
        # = 0) but keeps d and t for the next curvature pair; do the same with a
        # zero step instead of a branch.
        descent = flat_grad.dot(direction) <= 0
        applied = torch.where(descent, step_size, torch.zeros_like(step_size))
        self.param.view(-1).addcmul_(direction, applied)
        self._direction, self._step_size = direction, step_size
        return loss

    def _two_loop(self, flat_grad: torch.Tensor) -> torch.Tensor:
        """Store the newest curvature pair and return ``-H g`` (two-loop recursion)."""
        # Set by every earlier step; this runs from the second step on.
        assert self._prev_grad is not None and self._direction is not None and self._step_size is not None
        assert self._h_diag is not None
        y = flat_grad - self._prev_grad
        s = self._direction * self._step_size
        ys = y.dot(s)
        accept = ys > CURVATURE_EPS
        zero = torch.zeros_like(ys)
        if len(self._dirs) == self.history_size:
            self._dirs.pop(0)
            self._steps.pop(0)
            self._rhos.pop(0)
        self._dirs.append(y)
        self._steps.append(s)
        # where() evaluates both sides: guard the divisions so a rejected pair
        # (ys or y.y zero) gives no inf/nan that could leak through.
        safe_ys = torch.where(accept, ys, torch.ones_like(ys))
        self._rhos.append(torch.where(accept, safe_ys.reciprocal(), zero))
        yy = y.dot(y)
        safe_yy = torch.where(accept, yy, torch.ones_like(yy))
        self._h_diag = torch.where(accept, safe_ys / safe_yy, self._h_diag)

        q = flat_grad.neg()
        alphas: list[torch.Tensor] = [zero] * len(self._dirs)
        for i in range(len(self._dirs) - 1, -1, -1):
            alphas[i] = self._steps[i].dot(q) * self._rhos[i]
            q.addcmul_(self._dirs[i], alphas[i], value=-1.0)
        r = q.mul_(self._h_diag)
        for i in range(len(self._dirs)):
            beta = self._dirs[i].dot(r) * self._rhos[i]
            r.addcmul_(self._steps[i], alphas[i] - beta)
        return r
