"""Candidates for the activation, normalisation, scan and loss tasks of the
eval split: L1/28, 29, 30, 32, 36, 89, 95, 98.

The inputs are torch.rand (in [0, 1)): a formula that differs from the
reference only for negative inputs (x / (1 + x) for softsign, x.clone() for
hardtanh) passes the correctness check and is caught only by the robustness
trials, so no wrong candidate here is of that kind. Correct rewrites of the
6-7 GiB tasks keep their temporaries to about one tensor (in-place chains),
as the reference does. L1/98 sums 2**28 terms: its rewrites keep torch.sum's
tree reduction (an einsum contraction to a scalar is a BLAS dot product, whose
sequential sum was 1.5x the tolerance off on the CPU: check_precision.py).
"""
from __future__ import annotations

from .templates import Body, Init, TaskSpec

GIB = 2 ** 30
ACTIVATION_SMALL = {"batch_size": "64", "dim": "96"}


def _lookup_oom(expr: str) -> tuple[Body, callable]:
    """A piecewise-linear lookup over a 1024-point grid, one column per grid
    point: the same function where memory allows, 1024x the input at once."""
    text = ("grid = torch.linspace(-20.0, 20.0, 1024, device=x.device, dtype=x.dtype)\n"
            "weights = torch.clamp(1 - (x.unsqueeze(-1) - grid).abs() / (grid[1] - grid[0]), min=0)\n"
            f"table = {expr}\n"
            "inside = (weights * table).sum(dim=-1) / weights.sum(dim=-1).clamp_min(1e-12)\n"
            "return inside")
    return Body(text, "oom_lookup"), (lambda c: c["batch_size"] * c["dim"] * 1024 * 4 / GIB)


def _outer_oom(expr: str) -> tuple[Body, callable]:
    """Each element against a 64-wide copy of itself (a 'vectorised' mistake)."""
    text = (f"wide = x.unsqueeze(-1).expand(-1, -1, 64).contiguous()\n"
            f"return ({expr}).mean(dim=-1)")
    return Body(text, "oom_broadcast"), (lambda c: c["batch_size"] * c["dim"] * 64 * 4 / GIB)


def l1_28() -> TaskSpec:
    return TaskSpec(
        task_id="L1/28", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "tensor"}),
        small=dict(ACTIVATION_SMALL),
        correct=[
            Body("return F.relu6(x + 3) / 6", "rewrite"),
            Body("return (x + 3).clamp_(0, 6).div_(6)", "rewrite"),
            Body("return torch.clamp(x / 6 + 0.5, 0.0, 1.0)", "rewrite"),
            Body("return (x * (1.0 / 6.0)).add_(0.5).clamp_(min=0.0, max=1.0)", "rewrite"),
            Body("return F.hardtanh(x / 6 + 0.5, 0.0, 1.0)", "rewrite"),
            Body("return F.hardsigmoid(x, inplace=False)", "same_op"),
            Body("return nn.Hardsigmoid()(x)", "same_op"),
            Body("return x.add(3).clamp(0, 6).mul(1 / 6)", "rewrite"),
            Body("y = x.div(6).add_(0.5)\nreturn torch.clamp_(y, 0.0, 1.0)", "rewrite"),
            Body("return torch.where(x <= -3, 0.0, torch.where(x >= 3, 1.0, x / 6 + 0.5))", "rewrite"),
        ],
        wrong=[
            Body("return torch.sigmoid(x)", "op"),
            Body("return F.relu6(x + 3) / 5", "scale"),
            Body("return torch.clamp(x / 6, 0.0, 1.0)", "offset"),
            Body("return F.relu6(x) / 6", "offset"),
            Body("return F.hardsigmoid(x).t()", "transpose"),
            Body("return F.hardsigmoid(x[:, : x.shape[1] // 2])", "partial"),
            Body("return F.hardsigmoid(x) * 0.99", "scale"),
            Body("return x.clamp(0.0, 1.0)", "op"),
        ],
        runtime=[
            Body("return F.hardsigmoid(x, min_val=0.0)", "bad_argument"),
            Body("return F.hardsigmoid(x.view(-1, 7)).view_as(x)", "bad_view"),
            Body("return torch.clamp(x / 6 + 0.5, 0.0, 1.0, inplace=True)", "bad_argument"),
        ],
        oom=[_lookup_oom("torch.clamp(grid / 6 + 0.5, 0.0, 1.0)"),
             _outer_oom("F.relu6(wide + 3) / 6")],
    )


def l1_29() -> TaskSpec:
    return TaskSpec(
        task_id="L1/29", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "logits"}),
        small=dict(ACTIVATION_SMALL),
        correct=[
            Body("return torch.where(x > 20, x, torch.log1p(torch.exp(x)))", "rewrite"),
            Body("return torch.logaddexp(x, torch.zeros_like(x))", "rewrite"),
            Body("return F.relu(x) + torch.log1p(torch.exp(-x.abs()))", "rewrite"),
            Body("return F.softplus(x, beta=1.0, threshold=20.0)", "same_op"),
            Body("return nn.Softplus()(x)", "same_op"),
            Body("return torch.log1p(torch.exp(x))", "rewrite"),
            Body("return x.clamp(max=20.0).exp().log1p().where(x <= 20.0, x)", "rewrite"),
            Body("y = torch.exp(-x.abs()).log1p_()\nreturn y.add_(x.clamp(min=0))", "rewrite"),
            Body("return torch.nn.functional.softplus(x.contiguous())", "same_op"),
        ],
        wrong=[
            Body("return torch.log(torch.exp(x))", "op"),
            Body("return F.softplus(x, beta=2.0)", "op"),
            Body("return torch.log1p(x)", "op"),
            Body("return F.relu(x)", "op"),
            Body("return F.softplus(x) - 0.01", "offset"),
            Body("return F.softplus(x).t()", "transpose"),
            Body("return F.softplus(x[: x.shape[0] // 2])", "partial"),
            Body("return torch.log(1 + torch.exp(x)) * 2", "scale"),
        ],
        runtime=[
            Body("return F.softplus(x, beta=1, threshold=20, inplace=True)", "bad_argument"),
            Body("return torch.log1p(torch.exp(x), x)", "bad_argument"),
            Body("return F.softplus(x.view(-1, 7)).view_as(x)", "bad_view"),
        ],
        oom=[_lookup_oom("F.softplus(grid)"), _outer_oom("torch.logaddexp(wide, torch.zeros_like(wide))")],
    )


def l1_30() -> TaskSpec:
    return TaskSpec(
        task_id="L1/30", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "values"}),
        small=dict(ACTIVATION_SMALL),
        correct=[
            Body("return F.softsign(x)", "same_op"),
            Body("return x / (x.abs() + 1)", "rewrite"),
            Body("return x * torch.reciprocal(1 + x.abs())", "rewrite"),
            Body("return torch.div(x, torch.abs(x).add(1.0))", "rewrite"),
            Body("return x.abs().add_(1).reciprocal_().mul_(x)", "rewrite"),
            Body("return torch.where(x >= 0, x / (1 + x), x / (1 - x))", "rewrite"),
            Body("return nn.Softsign()(x)", "same_op"),
            Body("return x.div(x.abs().add(1))", "rewrite"),
            Body("den = torch.abs(x)\nden += 1\nreturn x / den", "rewrite"),
        ],
        wrong=[
            Body("return x / (1 + x ** 2)", "op"),
            Body("return torch.tanh(x)", "op"),
            Body("return x / (2 + x.abs())", "op"),
            Body("return 1 / (1 + x.abs())", "op"),
            Body("return x / (1 + x.abs()) + 0.01", "offset"),
            Body("return (x / (1 + x.abs())).t()", "transpose"),
            Body("return x[:, ::2] / (1 + x[:, ::2].abs())", "partial"),
            Body("return x / (1 + x.abs()) * 0.9", "scale"),
        ],
        runtime=[
            Body("return F.softsign(x, inplace=True)", "bad_argument"),
            Body("return x / (1 + x.abs()).view(-1, 7)", "bad_view"),
            Body("return torch.softsign(x)", "missing_function"),
        ],
        oom=[_lookup_oom("grid / (1 + grid.abs())"), _outer_oom("wide / (1 + wide.abs())")],
    )


def l1_32() -> TaskSpec:
    return TaskSpec(
        task_id="L1/32", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "activations"}),
        small=dict(ACTIVATION_SMALL),
        correct=[
            Body("return torch.clamp(x, -1.0, 1.0)", "rewrite"),
            Body("return x.clamp(min=-1, max=1)", "rewrite"),
            Body("return torch.clip(x, -1.0, 1.0)", "rewrite"),
            Body("return F.hardtanh(x)", "same_op"),
            Body("return nn.Hardtanh()(x)", "same_op"),
            Body("return torch.nn.functional.hardtanh(x, min_val=-1.0, max_val=1.0)", "same_op"),
            Body("return torch.minimum(torch.maximum(x, x.new_tensor(-1.0)), x.new_tensor(1.0))", "rewrite"),
            Body("return torch.where(x > 1, 1.0, torch.where(x < -1, -1.0, x))", "rewrite"),
            Body("return x.clamp_max(1.0).clamp_min_(-1.0)", "rewrite"),
        ],
        wrong=[
            Body("return torch.clamp(x, -0.5, 0.5)", "op"),
            Body("return torch.tanh(x)", "op"),
            Body("return F.hardtanh(x, -1.0, 0.9)", "op"),
            Body("return F.relu6(x) / 6", "op"),
            Body("return F.hardtanh(x).t()", "transpose"),
            Body("return torch.sign(x)", "op"),
            Body("return torch.clamp(x * 2 - 1, -1.0, 1.0)", "op"),
            Body("return F.hardtanh(x) + 0.01", "offset"),
        ],
        runtime=[
            Body("return F.hardtanh(x, min=-1.0, max=1.0)", "bad_argument"),
            Body("return torch.clamp(x.view(-1, 7), -1.0, 1.0).view_as(x)", "bad_view"),
            Body("return torch.hardtanh(x)", "missing_function"),
        ],
        oom=[_lookup_oom("grid.clamp(-1.0, 1.0)"), _outer_oom("wide.clamp(-1.0, 1.0)")],
    )


def l1_36() -> TaskSpec:
    return TaskSpec(
        task_id="L1/36", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "features"}),
        small={"batch_size": "2", "features": "8", "dim1": "12", "dim2": "12"},
        init_sig="num_features: int, eps: float = 1e-5",
        inits=(Init("self.num_features = num_features\nself.eps = eps", {"eps": "self.eps", "c": "self.num_features"}),
               Init("self.eps = eps", {"eps": "self.eps", "c": "x.shape[1]"}),
               Init("self.register_buffer(\"eps_t\", torch.tensor(eps))\nself.eps = eps",
                    {"eps": "self.eps", "c": "x.shape[1]"})),
        correct=[
            Body("return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + {eps})", "rewrite"),
            Body("rms = x.square().mean(1, keepdim=True).add_({eps}).sqrt_()\nreturn x / rms", "rewrite"),
            Body("norm = torch.linalg.vector_norm(x, ord=2, dim=1, keepdim=True)\n"
                 "return x / torch.sqrt(norm.pow(2) / {c} + {eps})", "rewrite"),
            Body("return F.rms_norm(x.transpose(1, -1), (x.shape[1],), eps={eps}).transpose(1, -1)", "rewrite"),
            Body("var = torch.mean(x * x, dim=1, keepdim=True)\nreturn x * (var + {eps}).rsqrt()", "rewrite"),
            Body("out = torch.empty_like(x)\nfor i in range(0, x.shape[0], 16):\n    xi = x[i:i + 16]\n"
                 "    out[i:i + 16] = xi / torch.sqrt(xi.pow(2).mean(1, keepdim=True) + {eps})\nreturn out", "rewrite"),
            Body("rms = torch.sqrt(torch.mean(x ** 2, dim=1, keepdim=True) + {eps})\nreturn torch.div(x, rms)", "same_op"),
            Body("return x / (x.pow(2).sum(1, keepdim=True) / {c} + {eps}).sqrt()", "rewrite"),
        ],
        wrong=[
            Body("return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + {eps})", "axis"),
            Body("return x / torch.sqrt(x.pow(2).sum(dim=1, keepdim=True) + {eps})", "scale"),
            Body("return x / (x.pow(2).mean(dim=1, keepdim=True) + {eps})", "op"),
            Body("return x * torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + {eps})", "op"),
            Body("return x / torch.sqrt(x.mean(dim=1, keepdim=True) + {eps})", "op"),
            Body("mean = x.mean(dim=1, keepdim=True)\nvar = x.var(dim=1, keepdim=True, unbiased=False)\n"
                 "return (x - mean) / torch.sqrt(var + {eps})", "op"),
            Body("return x / torch.sqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + {eps})", "axis"),
            Body("return F.normalize(x, dim=1)", "scale"),
            Body("return (x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + {eps})).mean(dim=1)", "shape"),
            Body("return (x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + {eps})).transpose(2, 3)", "transpose"),
        ],
        runtime=[
            Body("return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.epsilon)", "missing_attribute"),
            Body("return x / torch.sqrt(x.pow(2).mean(dim=(1, 4), keepdim=True) + {eps})", "bad_dim"),
            Body("return F.rms_norm(x, x.shape[1], eps={eps})", "shape_mismatch"),
        ],
        oom=[
            (Body("gram = torch.einsum(\"bchw,bdhw->bcdhw\", x, x)\n"
                  "ms = torch.diagonal(gram, dim1=1, dim2=2).mean(dim=-1)\n"
                  "return x / torch.sqrt(ms.unsqueeze(1) + {eps})", "oom_broadcast"),
             lambda c: c["batch_size"] * c["features"] ** 2 * c["dim1"] * c["dim2"] * 4 / GIB),
            (Body("pairs = x.unsqueeze(2) * x.unsqueeze(1)\nms = pairs.diagonal(dim1=1, dim2=2).mean(dim=-1)\n"
                  "return x * torch.rsqrt(ms.unsqueeze(1) + {eps})", "oom_broadcast"),
             lambda c: c["batch_size"] * c["features"] ** 2 * c["dim1"] * c["dim2"] * 4 / GIB),
        ],
    )


def l1_89() -> TaskSpec:
    def blocked(block: int, carry: bool = True) -> str:
        tail = ("carry = parts[:, :, -1].cumsum(1) - parts[:, :, -1]\n"
                "return (parts + carry.unsqueeze(2)).view_as(x)") if carry else "return parts.view_as(x)"
        return (f"n = x.shape[{{dim}}]\nblock = {block} if n % {block} == 0 else n\n"
                "parts = x.view(x.shape[0], n // block, block).cumsum(2)\n" + tail)
    return TaskSpec(
        task_id="L1/89", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "values"}),
        small={"batch_size": "16", "input_shape": "(1024,)"},
        init_sig="dim",
        inits=(Init("self.dim = dim", {"dim": "self.dim"}),
               Init("self.axis = dim", {"dim": "self.axis"}),
               Init("self.dim = int(dim)", {"dim": "self.dim"})),
        correct=[
            Body("return x.cumsum({dim})", "same_op"),
            Body("return torch.cumsum(x, dim=-1)", "rewrite"),
            Body(blocked(256), "rewrite"),
            Body(blocked(128), "rewrite"),
            Body("return x.unsqueeze(0).cumsum(2).squeeze(0)", "rewrite"),
            Body("return torch.cumsum(x.t(), dim=0).t()", "rewrite"),
            Body("out = torch.empty_like(x)\nfor i in range(0, x.shape[0], 4096):\n"
                 "    out[i:i + 4096] = x[i:i + 4096].cumsum({dim})\nreturn out", "rewrite"),
            Body("return torch.ops.aten.cumsum(x, {dim})", "same_op"),
            Body("return torch.cumsum(x, {dim}, dtype=x.dtype)", "same_op"),
        ],
        wrong=[
            Body("return torch.cumsum(x, dim=0)", "axis"),
            Body("return torch.cumsum(x.flip(1), 1).flip(1)", "order"),
            Body("return torch.cumprod(x, {dim})", "op"),
            Body("return torch.cumsum(x, {dim}) - x", "offset"),
            Body("return x.sum({dim}, keepdim=True).expand_as(x)", "op"),
            Body("return torch.cumsum(x, {dim})[:, :-1]", "shape"),
            Body("return torch.cumsum(x, {dim}).t()", "transpose"),
            Body("return torch.cumsum(x[:, : x.shape[1] // 2], {dim})", "partial"),
            Body(blocked(256, carry=False), "op"),
        ],
        runtime=[
            Body("return torch.cumsum(x, dim=2)", "bad_dim"),
            Body("return torch.cumsum(x)", "bad_argument"),
            Body("return x.cumsum(dim=self.scan_dim)", "missing_attribute"),
        ],
        oom=[
            (Body("n = x.shape[1]\nmask = torch.ones(n, n, device=x.device, dtype=x.dtype).triu()\n"
                  "return (x.unsqueeze(2) * mask.unsqueeze(0)).sum(dim=1)", "oom_broadcast"),
             lambda c: c["batch_size"] * c["input_shape"][0] ** 2 * 4 / GIB),
            (Body("n = x.shape[1]\nlower = torch.ones(n, n, device=x.device, dtype=x.dtype).tril()\n"
                  "return (x.unsqueeze(1) * lower.unsqueeze(0)).sum(dim=-1)", "oom_broadcast"),
             lambda c: c["batch_size"] * c["input_shape"][0] ** 2 * 4 / GIB),
        ],
    )


def l1_95() -> TaskSpec:
    return TaskSpec(
        task_id="L1/95", args=("predictions", "targets"), tensor_args=("predictions", "targets"),
        renames=({"predictions": "logits", "targets": "labels"}, {"predictions": "scores", "targets": "classes"}),
        small={"batch_size": "64", "num_classes": "32"},
        correct=[
            Body("return F.nll_loss(F.log_softmax(predictions, dim=1), targets)", "rewrite"),
            Body("lse = torch.logsumexp(predictions, dim=1)\n"
                 "picked = predictions.gather(1, targets.unsqueeze(1)).squeeze(1)\nreturn (lse - picked).mean()", "rewrite"),
            Body("return nn.CrossEntropyLoss()(predictions, targets)", "same_op"),
            Body("return F.cross_entropy(predictions, targets, reduction=\"mean\")", "same_op"),
            Body("return -(F.log_softmax(predictions, 1).gather(1, targets[:, None])).mean()", "rewrite"),
            Body("logp = predictions.log_softmax(-1)\n"
                 "return -logp[torch.arange(logp.shape[0], device=logp.device), targets].mean()", "rewrite"),
            Body("onehot = F.one_hot(targets, predictions.shape[1])\n"
                 "return -(F.log_softmax(predictions, 1) * onehot).sum(1).mean()", "rewrite"),
            Body("m = predictions.max(dim=1, keepdim=True).values\n"
                 "lse = m.squeeze(1) + (predictions - m).exp().sum(dim=1).log()\n"
                 "return (lse - predictions.gather(1, targets[:, None]).squeeze(1)).mean()", "rewrite"),
            Body("return F.cross_entropy(predictions.float(), targets.long())", "same_op"),
        ],
        wrong=[
            Body("return F.cross_entropy(predictions, targets, reduction=\"sum\")", "scale"),
            Body("return F.nll_loss(predictions, targets)", "op"),
            Body("return F.cross_entropy(predictions, targets, reduction=\"none\")", "shape"),
            Body("return F.cross_entropy(predictions, targets, label_smoothing=0.1)", "op"),
            Body("return F.cross_entropy(predictions, targets) + 0.01", "offset"),
            Body("return F.cross_entropy(F.softmax(predictions, dim=1), targets)", "op"),
            Body("return F.cross_entropy(predictions, targets, reduction=\"none\").mean(0, keepdim=True)", "shape"),
            Body("return -F.log_softmax(predictions, 0).gather(1, targets[:, None]).mean()", "axis"),
            Body("return torch.logsumexp(predictions, dim=1).mean()", "op"),
        ],
        runtime=[
            Body("return F.cross_entropy(predictions, targets.float())", "shape_mismatch"),
            Body("return F.cross_entropy(predictions.t(), targets)", "shape_mismatch"),
            Body("return F.nll_loss(F.log_softmax(predictions, 1), targets.unsqueeze(1))", "shape_mismatch"),
        ],
        oom=[
            (Body("pairwise = predictions.unsqueeze(2) - predictions.unsqueeze(1)\n"
                  "picked = pairwise.gather(1, targets.view(-1, 1, 1).expand(-1, 1, pairwise.shape[2])).squeeze(1)\n"
                  "return torch.logsumexp(-picked, dim=1).mean()", "oom_broadcast"),
             lambda c: c["batch_size"] * c["num_classes"] ** 2 * 4 / GIB),
            (Body("onehot = F.one_hot(targets, predictions.shape[1]).double()\n"
                  "cube = onehot.unsqueeze(2) * F.log_softmax(predictions, 1).double().unsqueeze(1)\n"
                  "return -torch.diagonal(cube, dim1=1, dim2=2).sum(1).mean().float()", "oom_broadcast"),
             lambda c: c["batch_size"] * c["num_classes"] ** 2 * 8 / GIB),
        ],
    )


def l1_98() -> TaskSpec:
    return TaskSpec(
        task_id="L1/98", args=("predictions", "targets"), tensor_args=("predictions", "targets"),
        renames=({"predictions": "q", "targets": "p"}, {"predictions": "pred", "targets": "target"}),
        small={"batch_size": "64", "input_shape": "(64,)"},
        correct=[
            Body("return (targets * (targets.log() - predictions.log())).sum() / predictions.shape[0]", "rewrite"),
            Body("return F.kl_div(predictions.log(), targets, reduction=\"sum\") / predictions.size(0)", "rewrite"),
            Body("return torch.sum(torch.xlogy(targets, targets) - targets * torch.log(predictions)) / predictions.shape[0]",
                 "rewrite"),
            Body("return (targets * (targets / predictions).log()).sum(dim=1).mean()", "rewrite"),
            Body("return nn.KLDivLoss(reduction=\"batchmean\")(predictions.log(), targets)", "same_op"),
            Body("return F.kl_div(predictions.log(), targets, reduction=\"batchmean\", log_target=False)", "same_op"),
            Body("return F.kl_div(predictions.log(), targets.log(), reduction=\"batchmean\", log_target=True)", "rewrite"),
            Body("rows = (targets * (targets.log() - predictions.log())).sum(dim=1)\nreturn rows.sum() / rows.shape[0]",
                 "rewrite"),
            Body("terms = targets.log().sub_(predictions.log()).mul_(targets)\nreturn terms.sum() / terms.shape[0]",
                 "rewrite"),
        ],
        wrong=[
            Body("return F.kl_div(predictions, targets, reduction=\"batchmean\")", "op"),
            Body("return F.kl_div(torch.log(predictions), targets, reduction=\"mean\")", "scale"),
            Body("return F.kl_div(torch.log(predictions), targets, reduction=\"sum\")", "scale"),
            Body("return F.kl_div(torch.log(predictions), targets, reduction=\"none\")", "shape"),
            Body("return (targets * (targets.log() - predictions.log())).sum(dim=1)", "shape"),
            Body("return F.kl_div(torch.log(predictions), targets, reduction=\"batchmean\") * 2", "scale"),
            Body("return F.kl_div(torch.log(predictions), targets, reduction=\"batchmean\") + 0.01", "offset"),
            Body("return -(targets * predictions.log()).sum() / predictions.shape[0]", "op"),
        ],
        runtime=[
            Body("return F.kl_div(torch.log(predictions), targets, reduction=\"batch_mean\")", "bad_argument"),
            Body("return F.kl_div(predictions.log(), targets[:, :-1], reduction=\"batchmean\")", "shape_mismatch"),
            Body("return F.kl_div(predictions.log(), targets, reduction=\"batchmean\", dim=1)", "bad_argument"),
        ],
        oom=[
            (Body("full = targets.unsqueeze(2) * (targets.log().unsqueeze(2) - predictions.log().unsqueeze(1))\n"
                  "return torch.diagonal(full, dim1=1, dim2=2).sum() / predictions.shape[0]", "oom_broadcast"),
             lambda c: c["batch_size"] * c["input_shape"][0] ** 2 * 4 / GIB),
            (Body("ratio = targets.double().unsqueeze(1) / predictions.double().unsqueeze(2)\n"
                  "terms = targets.double() * torch.diagonal(ratio, dim1=1, dim2=2).log()\n"
                  "return (terms.sum() / predictions.shape[0]).float()", "oom_broadcast"),
             lambda c: c["batch_size"] * c["input_shape"][0] ** 2 * 8 / GIB),
        ],
    )


SPECS = (l1_28, l1_29, l1_30, l1_32, l1_36, l1_89, l1_95, l1_98)
