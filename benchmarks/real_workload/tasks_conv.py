"""Candidates for the convolution tasks of the eval split: L1/55, 65, 70, 76, 82, 87.

A correct candidate must hold the same weights as the reference: the model is
built from one seed, so `__init__` creates one parameter of the same shape
with the same initialisation, either as the reference's layer (under the same
or another attribute name) or as a bare `nn.Parameter` initialised as
`nn.Conv*.reset_parameters` does (`kaiming_uniform_(w, a=sqrt(5))`).
Correct rewrites sum at most a few thousand terms per output in fp32.
"""
from __future__ import annotations

from .templates import Body, Init, TaskSpec

GIB = 2 ** 30
KAIMING = "nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))"


def _inits(layer: str, attr: str, other: str, shape: str, extra: dict, manual_extra: str = "",
           manual_fill: dict | None = None) -> tuple[Init, ...]:
    """The reference's layer under its own name and under another one, and a
    bare parameter of the same shape."""
    def module(name):
        return {"w": f"self.{name}.weight", "m": f"self.{name}",
                **{k: v.format(name=name) for k, v in extra.items()}}
    manual = f"self.weight = nn.Parameter(torch.empty({shape}))\n{KAIMING}" + (("\n" + manual_extra) if manual_extra else "")
    return (Init(f"self.{attr} = {layer}", module(attr)),
            Init(f"self.{other} = {layer}", module(other)),
            Init(manual, {"w": "self.weight", **(manual_fill or {})}, imports=("math",)))


def l1_55() -> TaskSpec:
    layer = ("nn.Conv2d(in_channels, out_channels, (kernel_size, kernel_size), stride=stride, padding=padding, "
             "dilation=dilation, groups=groups, bias=bias)")
    im2col = ("w = {w}\nk = w.shape[-1]\noh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1\n"
              "w2 = w.reshape(w.shape[0], -1)\nout = x.new_empty(x.shape[0], w.shape[0], oh, ow)\n"
              "for i in range(x.shape[0]):\n    cols = F.unfold(x[i:i + 1], k)\n"
              "    out[i] = (w2 @ cols[0]).view(-1, oh, ow)\nreturn out")
    shifted = ("w = {w}\nk = w.shape[-1]\noh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1\nout = None\n"
               "for i in range(k):\n    for j in range(k):\n"
               "        term = torch.einsum(\"bchw,oc->bohw\", x[:, :, i:i + oh, j:j + ow], w[:, :, i, j])\n"
               "        out = term if out is None else out + term\nreturn out")
    return TaskSpec(
        task_id="L1/55", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "images"}),
        small={"batch_size": "2", "height": "16", "width": "24", "in_channels": "4", "out_channels": "8"},
        init_sig=("in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, "
                  "dilation: int = 1, groups: int = 1, bias: bool = False"),
        inits=_inits(layer, "conv2d", "conv", "out_channels, in_channels // groups, kernel_size, kernel_size", {}),
        correct=[
            Body("return F.conv2d(x, {w})", "rewrite"),
            Body("return F.conv2d(x, {m}.weight, {m}.bias, {m}.stride, {m}.padding, {m}.dilation, {m}.groups)",
                 "same_op", needs=("m",)),
            Body("return {m}._conv_forward(x, {m}.weight, {m}.bias)", "same_op", needs=("m",)),
            Body("return F.conv2d(x.contiguous(memory_format=torch.channels_last), "
                 "{w}.contiguous(memory_format=torch.channels_last))", "rewrite"),
            Body(im2col, "rewrite"),
            Body(shifted, "rewrite"),
            Body("return torch.conv2d(x, {w})", "same_op"),
            Body("return F.conv2d(input=x, weight={w}, bias=None, stride=1, padding=0)", "same_op"),
            Body("return torch.nn.functional.conv2d(x, {w}, padding=\"valid\")", "rewrite"),
        ],
        wrong=[
            Body("return F.conv2d(x, {w}, padding=1)", "shape"),
            Body("return F.conv2d(x, {w}.flip(-1, -2))", "flip"),
            Body("return F.conv2d(x, {w}.transpose(2, 3))", "transpose"),
            Body("return F.conv2d(x, {w}, stride=2)", "shape"),
            Body("c = x.shape[1] // 2\nreturn F.conv2d(x[:, :c], {w}[:, :c])", "partial"),
            Body("return F.relu(F.conv2d(x, {w}))", "op"),
            Body("return F.conv2d(x, {w}) + 0.01", "offset"),
            Body("return F.conv2d(x, {w}).transpose(2, 3)", "transpose"),
        ],
        runtime=[
            Body("return F.conv2d(x, {w}.flatten(1))", "shape_mismatch"),
            Body("return F.conv2d(x, {w}, groups=2)", "shape_mismatch"),
            Body("return F.conv2d(x.permute(0, 2, 3, 1), {w})", "shape_mismatch"),
        ],
        oom=[
            (Body("w = {w}\nk = w.shape[-1]\noh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1\n"
                  "cols = F.unfold(x, k)\nout = (cols.unsqueeze(1) * w.view(1, w.shape[0], -1, 1)).sum(dim=2)\n"
                  "return out.view(x.shape[0], w.shape[0], oh, ow)", "oom_broadcast"),
             lambda c: c["batch_size"] * c["out_channels"] * c["in_channels"] * 9 * (c["height"] - 2) * (c["width"] - 2) * 4 / GIB),
            (Body("w = {w}\npatches = x.unfold(2, w.shape[-2], 1).unfold(3, w.shape[-1], 1)\n"
                  "return (patches.unsqueeze(1) * w[None, :, :, None, None]).sum(dim=(2, 5, 6))", "oom_broadcast"),
             lambda c: c["batch_size"] * c["out_channels"] * c["in_channels"] * 9 * (c["height"] - 2) * (c["width"] - 2) * 4 / GIB),
        ],
    )


def _transposed_taps(ndim: int) -> str:
    if ndim == 2:
        return ("w = {w}\nkh, kw = w.shape[-2:]\nn, _, h, wd = x.shape\n"
                "out = x.new_zeros(n, w.shape[1], h + kh - 1, wd + kw - 1)\n"
                "for i in range(kh):\n    for j in range(kw):\n"
                "        out[:, :, i:i + h, j:j + wd] += torch.einsum(\"bchw,co->bohw\", x, w[:, :, i, j])\nreturn out")
    return ("w = {w}\nk = w.shape[-1]\nn, _, d, h, wd = x.shape\n"
            "out = x.new_zeros(n, w.shape[1], d + k - 1, h + k - 1, wd + k - 1)\n"
            "for a in range(k):\n    for i in range(k):\n        for j in range(k):\n"
            "            out[:, :, a:a + d, i:i + h, j:j + wd] += torch.einsum(\"bcdhw,co->bodhw\", x, w[:, :, a, i, j])\n"
            "return out")


def l1_65() -> TaskSpec:
    layer = ("nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, "
             "output_padding=output_padding, groups=groups, bias=bias)")
    return TaskSpec(
        task_id="L1/65", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "feature_map"}),
        small={"batch_size": "2", "in_channels": "4", "out_channels": "4", "width": "12", "height": "12"},
        init_sig=("in_channels: int, out_channels: int, kernel_size: tuple, stride: int = 1, padding: int = 0, "
                  "output_padding: int = 0, groups: int = 1, bias: bool = False"),
        inits=_inits(layer, "conv_transpose2d", "deconv", "in_channels, out_channels // groups, *kernel_size", {}),
        correct=[
            Body("return F.conv_transpose2d(x, {w})", "rewrite"),
            Body("w = {w}\nkh, kw = w.shape[-2:]\nreturn F.conv2d(x, w.flip(-1, -2).transpose(0, 1), padding=(kh - 1, kw - 1))",
                 "rewrite"),
            Body("w = {w}\nkh, kw = w.shape[-2:]\n"
                 "return F.conv2d(F.pad(x, (kw - 1, kw - 1, kh - 1, kh - 1)), w.flip(2, 3).permute(1, 0, 2, 3))", "rewrite"),
            Body("return torch.conv_transpose2d(x, {w})", "same_op"),
            Body("return {m}(x.contiguous())", "same_op", needs=("m",)),
            Body("return F.conv_transpose2d(x.contiguous(memory_format=torch.channels_last), {w})", "rewrite"),
            Body(_transposed_taps(2), "rewrite"),
            Body("return F.conv_transpose2d(x, {w}, None, 1, 0, 0, 1, 1)", "same_op"),
        ],
        wrong=[
            Body("w = {w}\nkh, kw = w.shape[-2:]\nreturn F.conv2d(x, w.transpose(0, 1), padding=(kh - 1, kw - 1))", "flip"),
            Body("return F.conv_transpose2d(x, {w}, padding=1)", "shape"),
            Body("return F.conv_transpose2d(x, {w}.flip(-1))", "flip"),
            Body("return F.conv_transpose2d(x, {w}, stride=2)", "shape"),
            Body("return F.conv_transpose2d(x * 0.5, {w})", "scale"),
            Body("return F.conv_transpose2d(x, {w}.transpose(2, 3))", "transpose"),
            Body("return F.conv2d(x, {w})", "op"),
            Body("c = x.shape[1] // 2\nreturn F.conv_transpose2d(x[:, :c], {w}[:c])", "partial"),
        ],
        runtime=[
            Body("return F.conv_transpose2d(x, {w}[:-1])", "shape_mismatch"),
            Body("return F.conv_transpose2d(x, {w}, output_padding=1)", "bad_argument"),
            Body("return F.conv_transpose2d(x, {w}.flatten(2))", "shape_mismatch"),
        ],
        oom=[
            (Body("w = {w}\ncontrib = (x[:, :, None, :, :, None, None] * w[None, :, :, None, None, :, :]).sum(dim=1)\n"
                  "kh, kw = w.shape[-2:]\nn, o, h, wd = contrib.shape[:4]\n"
                  "out = x.new_zeros(n, o, h + kh - 1, wd + kw - 1)\n"
                  "for i in range(kh):\n    for j in range(kw):\n"
                  "        out[:, :, i:i + h, j:j + wd] += contrib[..., i, j]\nreturn out", "oom_broadcast"),
             lambda c: c["batch_size"] * c["in_channels"] * c["out_channels"] * c["height"] * c["width"] * 21 * 4 / GIB),
            (Body("w = {w}\nkh, kw = w.shape[-2:]\n"
                  "cols = F.unfold(F.pad(x, (kw - 1, kw - 1, kh - 1, kh - 1)), (kh, kw))\n"
                  "flipped = w.flip(2, 3).transpose(0, 1).reshape(w.shape[1], -1)\n"
                  "out = (cols.unsqueeze(1) * flipped[None, :, :, None]).sum(dim=2)\n"
                  "return out.view(x.shape[0], w.shape[1], x.shape[2] + kh - 1, x.shape[3] + kw - 1)", "oom_broadcast"),
             lambda c: c["batch_size"] * c["in_channels"] * c["out_channels"] * 21 * (c["height"] + 2) * (c["width"] + 6) * 4 / GIB),
        ],
    )


def l1_70() -> TaskSpec:
    layer = ("nn.ConvTranspose3d(in_channels, out_channels, (kernel_size, kernel_size, kernel_size), stride=stride, "
             "padding=padding, output_padding=output_padding, dilation=dilation, groups=groups, bias=bias)")
    return TaskSpec(
        task_id="L1/70", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "volume"}),
        small={"batch_size": "2", "in_channels": "6", "out_channels": "3", "depth": "8", "height": "8", "width": "8"},
        init_sig=("in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, "
                  "output_padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = False"),
        inits=_inits(layer, "conv_transpose3d", "deconv3d",
                     "in_channels, out_channels // groups, kernel_size, kernel_size, kernel_size", {}),
        correct=[
            Body("return F.conv_transpose3d(x, {w})", "rewrite"),
            Body("w = {w}\nk = w.shape[-1]\nreturn F.conv3d(x, w.flip(2, 3, 4).transpose(0, 1), padding=k - 1)", "rewrite"),
            Body("return torch.conv_transpose3d(x, {w})", "same_op"),
            Body("return F.conv_transpose3d(x.contiguous(memory_format=torch.channels_last_3d), {w})", "rewrite"),
            Body(_transposed_taps(3), "rewrite"),
            Body("w = {w}\np = w.shape[-1] - 1\n"
                 "return F.conv3d(F.pad(x, (p, p, p, p, p, p)), w.flip(2, 3, 4).permute(1, 0, 2, 3, 4))", "rewrite"),
            Body("return {m}(x.contiguous())", "same_op", needs=("m",)),
            Body("return F.conv_transpose3d(x, {w}, stride=1, padding=0)", "same_op"),
        ],
        wrong=[
            Body("w = {w}\nk = w.shape[-1]\nreturn F.conv3d(x, w.transpose(0, 1), padding=k - 1)", "flip"),
            Body("return F.conv_transpose3d(x, {w}, padding=1)", "shape"),
            Body("return F.conv_transpose3d(x, {w}.flip(2))", "flip"),
            Body("return F.conv_transpose3d(x, {w}, stride=2)", "shape"),
            Body("return F.conv_transpose3d(x, {w}) * 1.5", "scale"),
            Body("c = x.shape[1] // 2\nreturn F.conv_transpose3d(x[:, :c], {w}[:c])", "partial"),
            Body("return F.conv_transpose3d(x, {w}).transpose(3, 4)", "transpose"),
        ],
        runtime=[
            Body("return F.conv_transpose3d(x, {w}.flatten(3))", "shape_mismatch"),
            Body("return F.conv_transpose2d(x, {w})", "shape_mismatch"),
            Body("return F.conv3d(x, {w})", "shape_mismatch"),
        ],
        oom=[
            (Body("w = {w}\nk = w.shape[-1]\n"
                  "contrib = (x.unsqueeze(2).unsqueeze(-1) * w.reshape(1, w.shape[0], w.shape[1], 1, 1, 1, -1)).sum(dim=1)\n"
                  "n, o, d, h, wd = contrib.shape[:5]\nout = x.new_zeros(n, o, d + k - 1, h + k - 1, wd + k - 1)\n"
                  "for t in range(k ** 3):\n    a, i, j = t // (k * k), (t // k) % k, t % k\n"
                  "    out[:, :, a:a + d, i:i + h, j:j + wd] += contrib[..., t]\nreturn out", "oom_broadcast"),
             lambda c: c["batch_size"] * c["in_channels"] * c["out_channels"] * c["depth"] * c["height"] * c["width"] * 27 * 4 / GIB),
            (Body("w = {w}\nk = w.shape[-1]\n"
                  "grid = x[:, :, None, :, :, :, None, None, None] * w[None, :, :, None, None, None, :, :, :]\n"
                  "contrib = grid.sum(dim=1)\nn, o, d, h, wd = contrib.shape[:5]\n"
                  "out = x.new_zeros(n, o, d + k - 1, h + k - 1, wd + k - 1)\n"
                  "for a in range(k):\n    for i in range(k):\n        for j in range(k):\n"
                  "            out[:, :, a:a + d, i:i + h, j:j + wd] += contrib[..., a, i, j]\nreturn out", "oom_broadcast"),
             lambda c: c["batch_size"] * c["in_channels"] * c["out_channels"] * c["depth"] * c["height"] * c["width"] * 27 * 4 / GIB),
        ],
    )


def l1_76() -> TaskSpec:
    layer = "nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, bias=bias)"
    taps = ("w = {w}\nk = w.shape[-1]\nstride, dilation = {stride}, {dilation}\n"
            "length = (x.shape[-1] - dilation * (k - 1) - 1) // stride + 1\nout = None\n"
            "for t in range(k):\n    xs = x[:, :, t * dilation: t * dilation + stride * (length - 1) + 1: stride]\n"
            "    term = torch.einsum(\"bcl,oc->bol\", xs, w[:, :, t])\n"
            "    out = term if out is None else out + term\nreturn out")
    return TaskSpec(
        task_id="L1/76", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "signal"}),
        small={"batch_size": "2", "in_channels": "4", "out_channels": "8", "length": "200"},
        init_sig="in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1, bias: bool = False",
        inits=_inits(layer, "conv1d", "conv", "out_channels, in_channels, kernel_size",
                     {"stride": "self.{name}.stride[0]", "dilation": "self.{name}.dilation[0]"},
                     manual_extra="self.stride = stride\nself.dilation = dilation",
                     manual_fill={"stride": "self.stride", "dilation": "self.dilation"}),
        correct=[
            Body("return F.conv1d(x, {w}, stride={stride}, dilation={dilation})", "rewrite"),
            Body("return F.conv2d(x.unsqueeze(2), {w}.unsqueeze(2), stride=(1, {stride}), dilation=(1, {dilation})).squeeze(2)",
                 "rewrite"),
            Body(taps, "rewrite"),
            Body("return torch.conv1d(x, {w}, None, {stride}, 0, {dilation})", "same_op"),
            Body("return {m}(x.contiguous())", "same_op", needs=("m",)),
            Body("return F.conv1d(x, {m}.weight, None, {m}.stride, {m}.padding, {m}.dilation)", "same_op", needs=("m",)),
        ],
        wrong=[
            Body("return F.conv1d(x, {w}, stride={stride})", "shape"),
            Body("return F.conv1d(x, {w}, stride={stride}, dilation={dilation}, padding=1)", "shape"),
            Body("return F.conv1d(x, {w}.flip(-1), stride={stride}, dilation={dilation})", "flip"),
            Body("return F.conv1d(x, {w}, stride={dilation}, dilation={stride})", "shape"),
            Body("return F.conv1d(x, {w}, stride={stride}, dilation={dilation}) + 0.01", "offset"),
            Body("w = {w}\nreturn F.conv1d(x, w[:, :, :1].expand_as(w), stride={stride}, dilation={dilation})", "partial"),
            Body("return F.conv1d(x[..., ::{stride}], {w}, dilation={dilation})", "shape"),
        ],
        runtime=[
            Body("return F.conv1d(x, {w}, stride={stride}, dilation={dilation}, groups=2)", "shape_mismatch"),
            Body("return F.conv1d(x.transpose(1, 2), {w}, stride={stride}, dilation={dilation})", "shape_mismatch"),
            Body("return F.conv2d(x, {w}, stride={stride}, dilation={dilation})", "shape_mismatch"),
        ],
        oom=[
            (Body("w = {w}\nk = w.shape[-1]\n"
                  "patches = x.unfold(-1, {dilation} * (k - 1) + 1, {stride})[..., ::{dilation}]\n"
                  "return (patches.unsqueeze(1) * w[None, :, :, None, :]).sum(dim=(2, 4))", "oom_broadcast"),
             lambda c: c["batch_size"] * c["out_channels"] * c["in_channels"] * ((c["length"] - 9) // 3 + 1) * 3 * 4 / GIB),
            (Body("w = {w}\nk = w.shape[-1]\n"
                  "patches = x.unfold(-1, {dilation} * (k - 1) + 1, {stride})[..., ::{dilation}]\n"
                  "prod = patches.double().unsqueeze(1) * w.double()[None, :, :, None, :]\n"
                  "return prod.sum(dim=(2, 4)).float()", "oom_broadcast"),
             lambda c: c["batch_size"] * c["out_channels"] * c["in_channels"] * ((c["length"] - 9) // 3 + 1) * 3 * 8 / GIB),
        ],
    )


def l1_82() -> TaskSpec:
    layer = ("nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding, groups=in_channels, "
             "bias=bias)")
    taps = ("w = {w}\nk = w.shape[-1]\noh, ow = x.shape[2] - k + 1, x.shape[3] - k + 1\n"
            "out = torch.zeros(x.shape[0], x.shape[1], oh, ow, device=x.device, dtype=x.dtype)\n"
            "for i in range(k):\n    for j in range(k):\n"
            "        out += x[:, :, i:i + oh, j:j + ow] * w[:, 0, i, j].view(1, -1, 1, 1)\nreturn out")
    return TaskSpec(
        task_id="L1/82", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "images"}),
        small={"batch_size": "2", "in_channels": "4", "width": "16", "height": "16"},
        init_sig="in_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = False",
        inits=_inits(layer, "conv2d", "depthwise", "in_channels, 1, kernel_size, kernel_size",
                     {"groups": "self.{name}.groups", "stride": "self.{name}.stride", "padding": "self.{name}.padding"},
                     manual_extra="self.stride = stride\nself.padding = padding",
                     manual_fill={"groups": "x.shape[1]", "stride": "self.stride", "padding": "self.padding"}),
        correct=[
            Body("return F.conv2d(x, {w}, stride={stride}, padding={padding}, groups={groups})", "rewrite"),
            Body(taps, "rewrite"),
            Body("return torch.conv2d(x, {w}, None, {stride}, {padding}, 1, {groups})", "same_op"),
            Body("return F.conv2d(x.contiguous(memory_format=torch.channels_last), {w}, groups={groups})", "rewrite"),
            Body("return {m}(x.contiguous())", "same_op", needs=("m",)),
            Body("return F.conv2d(x, {w}, groups=x.shape[1])", "rewrite"),
        ],
        wrong=[
            Body("return F.conv2d(x, {w}, padding=1, groups={groups})", "shape"),
            Body("return F.conv2d(x, {w}.flip(-1, -2), groups={groups})", "flip"),
            Body("return F.conv2d(x, {w}.transpose(2, 3), groups={groups})", "transpose"),
            Body("return F.conv2d(x, {w}, stride=2, groups={groups})", "shape"),
            Body("return F.conv2d(x, {w}, groups={groups}).transpose(2, 3)", "transpose"),
            Body("w = {w}\nreturn F.conv2d(x, w.mean(0, keepdim=True).expand_as(w), groups={groups})", "op"),
            Body("return F.conv2d(x, {w}, groups={groups}) + 0.01", "offset"),
        ],
        runtime=[
            Body("return F.conv2d(x, {w})", "shape_mismatch"),
            Body("return F.conv2d(x, {w}, groups=x.shape[1] // 2)", "shape_mismatch"),
            Body("return F.conv1d(x, {w}, groups={groups})", "shape_mismatch"),
        ],
        oom=[
            (Body("w = {w}\nk = w.shape[-1]\nn, c, h, wd = x.shape\n"
                  "cols = F.unfold(x, k).view(n, 1, c, k * k, -1)\nfull = cols * w.view(1, c, 1, k * k, 1)\n"
                  "per_channel = torch.diagonal(full, dim1=1, dim2=2).sum(dim=1)\n"
                  "return per_channel.permute(0, 2, 1).reshape(n, c, h - k + 1, wd - k + 1)", "oom_broadcast"),
             lambda c: c["batch_size"] * c["in_channels"] ** 2 * 9 * (c["height"] - 2) * (c["width"] - 2) * 4 / GIB),
            (Body("w = {w}\nk = w.shape[-1]\npatches = x.unfold(2, k, 1).unfold(3, k, 1)\n"
                  "full = patches.unsqueeze(2) * w.view(1, 1, w.shape[0], 1, 1, k, k)\n"
                  "return torch.diagonal(full.sum(dim=(-1, -2)), dim1=1, dim2=2).permute(0, 3, 1, 2)", "oom_broadcast"),
             lambda c: c["batch_size"] * c["in_channels"] ** 2 * 9 * (c["height"] - 2) * (c["width"] - 2) * 4 / GIB),
        ],
    )


def l1_87() -> TaskSpec:
    layer = "nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=bias)"
    return TaskSpec(
        task_id="L1/87", args=("x",), tensor_args=("x",),
        renames=({"x": "inp"}, {"x": "images"}),
        small={"batch_size": "2", "in_channels": "8", "out_channels": "16", "width": "16", "height": "16"},
        init_sig="in_channels: int, out_channels: int, bias: bool = False",
        inits=_inits(layer, "conv1d", "proj", "out_channels, in_channels, 1, 1", {}),
        correct=[
            Body("return torch.einsum(\"bchw,oc->bohw\", x, {w}[:, :, 0, 0])", "rewrite"),
            Body("w2 = {w}.view({w}.shape[0], -1)\nreturn (w2 @ x.flatten(2)).view(x.shape[0], -1, x.shape[2], x.shape[3])",
                 "rewrite"),
            Body("return F.conv2d(x, {w})", "rewrite"),
            Body("return F.linear(x.permute(0, 2, 3, 1), {w}.flatten(1)).permute(0, 3, 1, 2)", "rewrite"),
            Body("return torch.tensordot({w}.flatten(1), x, dims=([1], [1])).transpose(0, 1)", "rewrite"),
            Body("return F.conv2d(x.contiguous(memory_format=torch.channels_last), {w})", "rewrite"),
            Body("return torch.conv2d(x, {w})", "same_op"),
            Body("return {m}(x.contiguous())", "same_op", needs=("m",)),
            Body("w2 = {w}.flatten(1)\nout = x.new_empty(x.shape[0], w2.shape[0], x.shape[2], x.shape[3])\n"
                 "for i in range(x.shape[0]):\n    out[i] = (w2 @ x[i].flatten(1)).view(-1, x.shape[2], x.shape[3])\n"
                 "return out", "rewrite"),
        ],
        wrong=[
            Body("return F.conv2d(x, {w}.flip(1))", "order"),
            Body("return F.conv2d(x, {w}) * 1.01", "scale"),
            Body("return F.conv2d(x, {w}, padding=1)", "shape"),
            Body("c = x.shape[1] // 2\nreturn F.conv2d(x[:, :c], {w}[:, :c])", "partial"),
            Body("return F.conv2d(x, {w}).transpose(2, 3)", "transpose"),
            Body("return F.relu(F.conv2d(x, {w}))", "op"),
            Body("return F.conv2d(x.mean(dim=1, keepdim=True).expand_as(x), {w})", "op"),
            Body("return F.conv2d(x, {w}, stride=2)", "shape"),
        ],
        runtime=[
            Body("return torch.einsum(\"bchw,co->bohw\", x, {w}[:, :, 0, 0])", "shape_mismatch"),
            Body("return {w}.view({w}.shape[0], -1) @ x", "shape_mismatch"),
            Body("return F.linear(x, {w})", "shape_mismatch"),
        ],
        oom=[
            (Body("w = {w}\nreturn (x.unsqueeze(1) * w.view(1, w.shape[0], w.shape[1], 1, 1)).sum(dim=2)", "oom_broadcast"),
             lambda c: c["batch_size"] * c["out_channels"] * c["in_channels"] * c["height"] * c["width"] * 4 / GIB),
            (Body("w = {w}\nprod = x.double().unsqueeze(1) * w.double().view(1, w.shape[0], w.shape[1], 1, 1)\n"
                  "return prod.sum(dim=2).float()", "oom_broadcast"),
             lambda c: c["batch_size"] * c["out_channels"] * c["in_channels"] * c["height"] * c["width"] * 8 / GIB),
        ],
    )


SPECS = (l1_55, l1_65, l1_70, l1_76, l1_82, l1_87)
