"""Candidates for the matrix tasks of the eval split: L1/4, 5, 12, 14, 15, 18.

Correct rewrites stay within fp32 atol = rtol = 1e-4 at the real sizes: sums
keep cuBLAS or torch's tree reductions (L1/4 reduces over K = 2**20: chunked
sums of at most 2**17 terms, never a sequential loop over K), and none uses
TF32 or half precision. Wrong outputs are wrong on the task's own inputs
(torch.rand, all positive), not only on the evaluator's signed or rescaled
ones, and by more than the tolerance at both the real and the small sizes:
relative errors, never an absolute offset that the large outputs would absorb.
"""
from __future__ import annotations

from .templates import Body, TaskSpec

GIB = 2 ** 30


def l1_4() -> TaskSpec:
    return TaskSpec(
        task_id="L1/4", args=("A", "B"), tensor_args=("A", "B"),
        renames=({"A": "mat", "B": "vec"}, {"A": "a", "B": "b"}),
        small={"M": "16", "K": "4096"},
        correct=[
            Body("return torch.mv(A, B.squeeze(1)).unsqueeze(1)", "rewrite"),
            Body("return torch.mm(A, B)", "same_op"),
            Body("return A @ B", "same_op"),
            Body("return A.matmul(B)", "same_op"),
            Body("return torch.einsum(\"mk,kn->mn\", A, B)", "rewrite"),
            Body("return F.linear(A, B.t())", "rewrite"),
            Body("return (B.t() @ A.t()).t()", "rewrite"),
            Body("return torch.matmul(A, B.view(-1)).view(-1, 1)", "rewrite"),
            Body("return torch.bmm(A.unsqueeze(0), B.unsqueeze(0)).squeeze(0)", "rewrite"),
            Body("return torch.tensordot(A, B, dims=([1], [0]))", "rewrite"),
            Body("out = None\nfor part_a, part_b in zip(A.split(131072, dim=1), B.split(131072, dim=0)):\n"
                 "    partial = part_a @ part_b\n    out = partial if out is None else out + partial\nreturn out",
                 "rewrite"),
            Body("acc = torch.zeros(A.shape[0], device=A.device, dtype=A.dtype)\nstep = 65536\n"
                 "for start in range(0, A.shape[1], step):\n"
                 "    acc += (A[:, start:start + step] * B[start:start + step, 0]).sum(dim=1)\nreturn acc.unsqueeze(1)",
                 "rewrite"),
            Body("parts = [a @ b for a, b in zip(A.chunk(8, dim=1), B.chunk(8, dim=0))]\n"
                 "return torch.stack(parts, dim=0).sum(dim=0)", "rewrite"),
        ],
        wrong=[
            Body("return torch.matmul(A, B) * 1.01", "scale"),
            Body("return torch.matmul(A, B).t()", "transpose"),
            Body("return torch.matmul(A, B).squeeze(1)", "shape"),
            Body("half = A.shape[1] // 2\nreturn torch.matmul(A[:, :half], B[:half]) * 2", "partial"),
            Body("return torch.matmul(A, B.flip(0))", "order"),
            Body("return A.sum(dim=1, keepdim=True) * B.mean()", "approximation"),
            Body("return torch.matmul(A, B) / A.shape[0]", "scale"),
        ],
        runtime=[
            Body("return torch.matmul(A, B.t())", "shape_mismatch"),
            Body("return torch.mv(A, B)", "shape_mismatch"),
            Body("return torch.mm(A.unsqueeze(0), B)", "shape_mismatch"),
        ],
        oom=[
            (Body("return (A @ torch.diag(B.squeeze(1))).sum(dim=1, keepdim=True)", "oom_dense"),
             lambda c: c["K"] * c["K"] * 4 / GIB),
            (Body("outer = A.unsqueeze(-1) * B.view(1, 1, -1)\nreturn outer.diagonal(dim1=1, dim2=2).sum(dim=1, keepdim=True)",
                  "oom_broadcast"),
             lambda c: c["M"] * c["K"] * c["K"] * 4 / GIB),
        ],
    )


def l1_5() -> TaskSpec:
    return TaskSpec(
        task_id="L1/5", args=("A", "s"), tensor_args=("A",),
        renames=({"A": "matrix", "s": "scale"}, {"A": "x", "s": "alpha"}),
        small={"M": "96", "N": "64"},
        correct=[
            Body("return torch.mul(A, s)", "same_op"),
            Body("return A.mul(s)", "same_op"),
            Body("return s * A", "same_op"),
            Body("return A.clone().mul_(s)", "rewrite"),
            Body("return torch.zeros_like(A).add_(A, alpha=s)", "rewrite"),
            Body("return A * torch.tensor(s, device=A.device, dtype=A.dtype)", "rewrite"),
            Body("return (A * (s / 2)) * 2", "rewrite"),
            Body("return A / (1.0 / s)", "rewrite"),
            Body("return torch.mul(A.view(-1), s).view_as(A)", "rewrite"),
            Body("out = torch.empty_like(A)\ntorch.mul(A, s, out=out)\nreturn out", "rewrite"),
            Body("return A.mul(torch.full((), s, device=A.device, dtype=A.dtype))", "rewrite"),
        ],
        wrong=[
            Body("return A + s", "op"),
            Body("return A * (s + 0.01)", "scale"),
            Body("return A * int(s)", "scale"),
            Body("return A[:, : A.shape[1] // 2] * s", "partial"),
            Body("return (A * s).t()", "transpose"),
            Body("return A.sum(dim=1, keepdim=True) * s", "shape"),
            Body("half = A.shape[0] // 2\nreturn torch.cat([A[:half] * s, A[half:]], dim=0)", "partial"),
            Body("return A * s * s", "scale"),
        ],
        runtime=[
            Body("return A.view(-1, 7).mul(s).view_as(A)", "bad_view"),
            Body("return torch.mul(A, s, alpha=2)", "bad_argument"),
            Body("return A * s.item()", "bad_argument"),
        ],
        oom=[
            (Body("return torch.diag_embed(A).mul(s).sum(dim=-1)", "oom_broadcast"),
             lambda c: c["M"] * c["N"] * c["N"] * 4 / GIB),
            (Body("eye = torch.eye(A.shape[1], device=A.device, dtype=A.dtype) * s\n"
                  "return (A.unsqueeze(2) * eye.unsqueeze(0)).sum(dim=1)", "oom_broadcast"),
             lambda c: c["M"] * c["N"] * c["N"] * 4 / GIB),
        ],
    )


def l1_12() -> TaskSpec:
    return TaskSpec(
        task_id="L1/12", args=("A", "B"), tensor_args=("A", "B"),
        renames=({"A": "diag", "B": "mat"}, {"A": "d", "B": "m"}),
        small={"M": "48", "N": "48"},
        correct=[
            Body("return A[:, None] * B", "rewrite"),
            Body("return B * A.view(-1, 1)", "rewrite"),
            Body("return torch.mul(A.unsqueeze(-1), B)", "same_op"),
            Body("return torch.einsum(\"i,ij->ij\", A, B)", "rewrite"),
            Body("return torch.diag(A) @ B", "rewrite"),
            Body("return A.unsqueeze(1).expand_as(B) * B", "rewrite"),
            Body("return B.mul(A.reshape(-1, 1))", "rewrite"),
            Body("return (B.t() * A).t()", "rewrite"),
            Body("return torch.addcmul(torch.zeros_like(B), A.unsqueeze(1), B)", "rewrite"),
            Body("return torch.mm(torch.diag_embed(A), B)", "rewrite"),
            Body("return B * A.unsqueeze(1)", "same_op"),
        ],
        wrong=[
            Body("return A.unsqueeze(0) * B", "axis"),
            Body("return A.unsqueeze(1) + B", "op"),
            Body("return (A.unsqueeze(1) * B).t()", "transpose"),
            Body("return A.unsqueeze(1) * B[:, :1]", "partial"),
            Body("return torch.outer(A, B.sum(dim=0))", "op"),
            Body("return (A @ B).unsqueeze(1)", "shape"),
            Body("return A.unsqueeze(1) * B.flip(1)", "order"),
            Body("return A.unsqueeze(1) * B * 1.001", "scale"),
        ],
        runtime=[
            Body("return torch.mm(A, B)", "shape_mismatch"),
            Body("return A.view(-1, 1) @ B", "shape_mismatch"),
            Body("return torch.diag(A, B)", "bad_argument"),
        ],
        oom=[
            (Body("return (torch.diag_embed(B) * A.view(-1, 1, 1)).sum(dim=-1)", "oom_broadcast"),
             lambda c: c["N"] * c["M"] * c["M"] * 4 / GIB),
            (Body("ones = torch.ones(1, 1, B.shape[1], device=B.device, dtype=B.dtype)\n"
                  "return (A[:, None, None] * B[:, :, None] * ones).mean(dim=-1)", "oom_broadcast"),
             lambda c: c["N"] * c["M"] * c["M"] * 4 / GIB),
        ],
    )


def _triangular(task_id: str, size_name: str, tri: str, other: str) -> TaskSpec:
    """L1/14 (upper) and L1/15 (lower): the product of two triangular
    matrices is triangular, so the mask is a no-op on exact zeros."""
    if tri == "triu":
        blocked = ("n = A.shape[0]\nout = torch.zeros_like(A)\nstep = max(1, n // 4)\n"
                   "for i in range(0, n, step):\n    out[i:i + step, i:] = A[i:i + step, i:] @ B[i:, i:]\n"
                   "return out.triu()")
    else:
        blocked = ("n = A.shape[0]\nout = torch.zeros_like(A)\nstep = max(1, n // 4)\n"
                   "for i in range(0, n, step):\n"
                   "    out[i:i + step, : i + step] = A[i:i + step, : i + step] @ B[: i + step, : i + step]\n"
                   "return out.tril()")
    return TaskSpec(
        task_id=task_id, args=("A", "B"), tensor_args=("A", "B"),
        renames=({"A": "lhs", "B": "rhs"}, {"A": "a", "B": "b"}),
        small={size_name: "96"},
        correct=[
            Body(f"return (A @ B).{tri}()", "same_op"),
            Body(f"return torch.matmul(A, B).{tri}_()", "same_op"),
            Body(f"return torch.mm(A, B).{tri}()", "same_op"),
            Body("return A @ B", "rewrite"),
            Body(f"return torch.{tri}(torch.einsum(\"ik,kj->ij\", A, B))", "rewrite"),
            Body(f"return torch.{tri}(F.linear(A, B.t()))", "rewrite"),
            Body(f"return (B.t() @ A.t()).t().{tri}()", "rewrite"),
            Body(f"return torch.{tri}(torch.bmm(A[None], B[None])[0])", "rewrite"),
            Body(blocked, "rewrite"),
            Body(blocked.replace("step = max(1, n // 4)", "step = 1024"), "rewrite"),
        ],
        wrong=[
            Body(f"return torch.{other}(A @ B)", "op"),
            Body(f"return torch.{tri}(B @ A)", "order"),
            Body(f"return torch.{tri}(A @ B.t())", "transpose"),
            Body(f"return torch.{tri}(A @ B, diagonal={1 if tri == 'triu' else -1})", "op"),
            Body(f"return torch.{tri}(A @ B).t()", "transpose"),
            Body(f"return torch.{tri}(A * B)", "op"),
            Body(f"return torch.{tri}(A @ B) + 0.01", "offset"),
            Body(f"return torch.{tri}(A @ B)[:, : A.shape[1] // 2]", "shape"),
        ],
        runtime=[
            Body(f"return torch.{tri}(A @ B, dim=1)", "bad_argument"),
            Body(f"return torch.{tri}(A @ B[:-1])", "shape_mismatch"),
            Body(f"return torch.{tri}(torch.mv(A, B))", "shape_mismatch"),
        ],
        oom=[
            (Body(f"return torch.{tri}((A.unsqueeze(2) * B.unsqueeze(0)).sum(dim=1))", "oom_broadcast"),
             lambda c: c[size_name] ** 3 * 4 / GIB),
            (Body(f"prod = A.double().unsqueeze(2) * B.double().unsqueeze(0)\nreturn torch.{tri}(prod.sum(dim=1)).float()",
                  "oom_broadcast"),
             lambda c: c[size_name] ** 3 * 8 / GIB),
        ],
    )


def l1_14() -> TaskSpec:
    return _triangular("L1/14", "N", "triu", "tril")


def l1_15() -> TaskSpec:
    return _triangular("L1/15", "M", "tril", "triu")


def l1_18() -> TaskSpec:
    return TaskSpec(
        task_id="L1/18", args=("A", "B"), tensor_args=("A", "B"),
        renames=({"A": "a_t", "B": "b_t"}, {"A": "lhs", "B": "rhs"}),
        small={"M": "32", "K": "48", "N": "40"},
        correct=[
            Body("return A.t() @ B.t()", "same_op"),
            Body("return torch.mm(A.T, B.T)", "same_op"),
            Body("return (B @ A).t()", "rewrite"),
            Body("return (B @ A).T.contiguous()", "rewrite"),
            Body("return torch.einsum(\"km,nk->mn\", A, B)", "rewrite"),
            Body("return F.linear(A.t(), B)", "rewrite"),
            Body("return torch.matmul(B, A).transpose(0, 1)", "rewrite"),
            Body("return A.t().contiguous() @ B.t().contiguous()", "rewrite"),
            Body("return torch.tensordot(A, B, dims=([0], [1]))", "rewrite"),
            Body("return sum(a.t() @ b.t() for a, b in zip(A.split(2048, dim=0), B.split(2048, dim=1)))", "rewrite"),
        ],
        wrong=[
            Body("return (A.t() @ B.t()).t()", "transpose"),
            Body("return B @ A", "transpose"),
            Body("return A.t() @ B.t() * 0.5", "scale"),
            Body("k = A.shape[0] // 2\nreturn A[:k].t() @ B[:, :k].t()", "partial"),
            Body("return torch.relu(A.t() @ B.t() - 1)", "op"),
            Body("return torch.flip(A.t() @ B.t(), dims=[0])", "order"),
            Body("return A.t() @ B.t() * 1.01", "scale"),
        ],
        runtime=[
            Body("return A @ B", "shape_mismatch"),
            Body("return torch.mm(A, B.t())", "shape_mismatch"),
            Body("return A.T @ B", "shape_mismatch"),
        ],
        oom=[
            (Body("return (A.t().unsqueeze(2) * B.t().unsqueeze(0)).sum(dim=1)", "oom_broadcast"),
             lambda c: c["M"] * c["K"] * c["N"] * 4 / GIB),
            (Body("prod = A.t().double().unsqueeze(2) * B.t().double().unsqueeze(0)\nreturn prod.sum(dim=1).float()",
                  "oom_broadcast"),
             lambda c: c["M"] * c["K"] * c["N"] * 8 / GIB),
        ],
    )


SPECS = (l1_4, l1_5, l1_12, l1_14, l1_15, l1_18)
