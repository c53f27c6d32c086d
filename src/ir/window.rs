//! The window family of the op table: 2-D convolution and pooling over NCHW values (PyTorch's
//! layouts: activations `[N, C, H, W]`, weights `[O, C/groups, KH, KW]`), and the ops their
//! VJPs need. Each op's name, shape rule, f64 reference semantics and VJP live here.
//!
//! The reference semantics enumerate the terms of each op — every (output element, window
//! element) pair — with one loop nest, `conv_terms` or `pool_terms`; the forward op and its
//! gradients read and accumulate the same terms, so they are adjoint by construction.

use super::interp::Tensor;
use super::op::{fmt_shape, ShapeError};
use super::{DType, Graph, NodeId, Op, Shape, Type};

/// Geometry of a 2-D convolution (cross-correlation, as PyTorch's `conv2d`). Pairs are
/// `[rows, columns]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2d {
    /// Step between windows.
    pub stride: [usize; 2],
    /// Zero rows and columns before the input.
    pub pad_lo: [usize; 2],
    /// Zero rows and columns after the input (one more than `pad_lo` for an even `same` kernel).
    pub pad_hi: [usize; 2],
    /// Step between a window's taps.
    pub dilation: [usize; 2],
    /// Channel groups: input and output channels split into this many independent convolutions.
    pub groups: usize,
}

/// Geometry of a 2-D pooling window (PyTorch's floor mode; padding on both sides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2d {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Padding on each side, at most half the kernel (as PyTorch requires).
    pub pad: [usize; 2],
}

/// A convolution or pooling op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowOp {
    /// `conv2d(x[N, C, H, W], w[O, C/groups, KH, KW]) -> [N, O, OH, OW]`.
    Conv(Conv2d),
    /// The gradient of `conv2d` with respect to its input, a transposed convolution:
    /// `(g[N, O, OH, OW], w) -> [N, C, H, W]`; `[H, W]` is given since a stride makes it ambiguous.
    ConvInput(Conv2d, [usize; 2]),
    /// The gradient of `conv2d` with respect to its weights:
    /// `(x[N, C, H, W], g[N, O, OH, OW]) -> [O, C/groups, KH, KW]`, with `[KH, KW]` given.
    ConvWeight(Conv2d, [usize; 2]),
    /// `max_pool2d(x[N, C, H, W]) -> [N, C, OH, OW]`, padding counting as -inf.
    MaxPool(Pool2d),
    /// The gradient of `max_pool2d`: `(x, g[N, C, OH, OW]) -> [N, C, H, W]`, each element of `g`
    /// sent to the first maximum of its window in `x` (as PyTorch's CPU kernel).
    MaxPoolGrad(Pool2d),
    /// `avg_pool2d(x[N, C, H, W]) -> [N, C, OH, OW]`, padding counting as zeros in the mean
    /// (PyTorch's `count_include_pad=True`).
    AvgPool(Pool2d),
    /// The gradient of `avg_pool2d`: `g[N, C, OH, OW] -> [N, C, H, W]`, with `[H, W]` given.
    AvgPoolGrad(Pool2d, [usize; 2]),
}

/// The number of windows along one axis, or `None` if the window is larger than the padded input.
fn windows(len: usize, pad: usize, span: usize, stride: usize) -> Option<usize> {
    (len + pad >= span).then(|| (len + pad - span) / stride + 1)
}

impl Conv2d {
    /// The extent of a dilated kernel along each axis.
    fn span(&self, kernel: [usize; 2]) -> [usize; 2] {
        [0, 1].map(|i| self.dilation[i] * (kernel[i].max(1) - 1) + 1)
    }

    /// `[OH, OW]` for an input `[H, W]` and a kernel `[KH, KW]`.
    fn out_hw(&self, hw: [usize; 2], kernel: [usize; 2]) -> Result<[usize; 2], ShapeError> {
        let span = self.span(kernel);
        let padded = [0, 1].map(|i| hw[i] + self.pad_lo[i] + self.pad_hi[i]);
        match [0, 1].map(|i| windows(hw[i], self.pad_lo[i] + self.pad_hi[i], span[i], self.stride[i])) {
            [Some(oh), Some(ow)] if kernel[0] > 0 && kernel[1] > 0 => Ok([oh, ow]),
            _ => Err(WindowError::Larger { op: "conv2d", window: span, padded }.into()),
        }
    }
}

impl Pool2d {
    /// `[OH, OW]` for an input `[H, W]`.
    fn out_hw(&self, op: &'static str, hw: [usize; 2]) -> Result<[usize; 2], ShapeError> {
        if (0..2).any(|i| self.pad[i] > self.kernel[i] / 2) {
            return Err(WindowError::Padding { op, kernel: self.kernel, pad: self.pad }.into());
        }
        let padded = [0, 1].map(|i| hw[i] + 2 * self.pad[i]);
        match [0, 1].map(|i| windows(hw[i], 2 * self.pad[i], self.kernel[i], self.stride[i])) {
            // An empty input would give windows with nothing to pool.
            [Some(oh), Some(ow)] if hw[0] > 0 && hw[1] > 0 => Ok([oh, ow]),
            _ => Err(WindowError::Larger { op, window: self.kernel, padded }.into()),
        }
    }
}

/// The dims of a rank-4 operand, or the error naming the op.
fn nchw(op: &'static str, t: &Type) -> Result<[usize; 4], ShapeError> {
    match (t.dtype, t.shape.as_slice()) {
        (DType::F32, &[n, c, h, w]) => Ok([n, c, h, w]),
        (DType::F32, _) => Err(WindowError::Rank { op, shape: t.shape.clone() }.into()),
        (DType::I32, _) => Err(ShapeError::DType { op, found: t.clone() }),
    }
}

impl WindowOp {
    /// The name the text printer uses (for the forward ops, also the `.grad` built-in).
    pub fn name(&self) -> &'static str {
        match self {
            WindowOp::Conv(_) => "conv2d",
            WindowOp::ConvInput(..) => "conv2d_input_grad",
            WindowOp::ConvWeight(..) => "conv2d_weight_grad",
            WindowOp::MaxPool(_) => "max_pool2d",
            WindowOp::MaxPoolGrad(_) => "max_pool2d_grad",
            WindowOp::AvgPool(_) => "avg_pool2d",
            WindowOp::AvgPoolGrad(..) => "avg_pool2d_grad",
        }
    }

    /// How many operands the op takes.
    pub fn arity(&self) -> usize {
        match self {
            WindowOp::Conv(_) | WindowOp::ConvInput(..) | WindowOp::ConvWeight(..) | WindowOp::MaxPoolGrad(_) => 2,
            WindowOp::MaxPool(_) | WindowOp::AvgPool(_) | WindowOp::AvgPoolGrad(..) => 1,
        }
    }

    /// The printer's attributes, e.g. `[s=2,2 p=1,1,1,1 d=1,1 g=1]`.
    pub fn attrs(&self) -> String {
        let pair = |p: [usize; 2]| format!("{},{}", p[0], p[1]);
        let conv = |c: &Conv2d| {
            let pad = format!("{},{},{},{}", c.pad_lo[0], c.pad_lo[1], c.pad_hi[0], c.pad_hi[1]);
            format!("s={} p={pad} d={} g={}", pair(c.stride), pair(c.dilation), c.groups)
        };
        let pool = |p: &Pool2d| format!("k={} s={} p={}", pair(p.kernel), pair(p.stride), pair(p.pad));
        match self {
            WindowOp::Conv(c) => format!("[{}]", conv(c)),
            WindowOp::ConvInput(c, hw) => format!("[{} in={}]", conv(c), pair(*hw)),
            WindowOp::ConvWeight(c, k) => format!("[{} k={}]", conv(c), pair(*k)),
            WindowOp::MaxPool(p) | WindowOp::MaxPoolGrad(p) | WindowOp::AvgPool(p) => format!("[{}]", pool(p)),
            WindowOp::AvgPoolGrad(p, hw) => format!("[{} in={}]", pool(p), pair(*hw)),
        }
    }

    /// The shape rule.
    pub fn infer(&self, args: &[&Type]) -> Result<Type, ShapeError> {
        let op = self.name();
        let operands = || ShapeError::Operands { op, shapes: args.iter().map(|t| t.shape.clone()).collect() };
        let f32_of = |s: Shape| Ok(Type::new(DType::F32, s));
        match self {
            WindowOp::Conv(c) => {
                let [n, ch, h, w] = nchw(op, args[0])?;
                let [o, cg, kh, kw] = nchw(op, args[1])?;
                check_conv(c, ch, &args[0].shape, &args[1].shape)?;
                if cg * c.groups != ch {
                    let (input, weight) = (args[0].shape.clone(), args[1].shape.clone());
                    return Err(WindowError::Channels { input, weight, groups: c.groups }.into());
                }
                let [oh, ow] = c.out_hw([h, w], [kh, kw])?;
                f32_of(vec![n, o, oh, ow])
            }
            WindowOp::ConvInput(c, [h, w]) => {
                let [n, o, oh, ow] = nchw(op, args[0])?;
                let [o2, cg, kh, kw] = nchw(op, args[1])?;
                let ch = cg * c.groups;
                check_conv(c, ch, &[n, ch, *h, *w], &args[1].shape)?;
                if o != o2 || c.out_hw([*h, *w], [kh, kw])? != [oh, ow] {
                    return Err(operands());
                }
                f32_of(vec![n, ch, *h, *w])
            }
            WindowOp::ConvWeight(c, [kh, kw]) => {
                let [n, ch, h, w] = nchw(op, args[0])?;
                let [n2, o, oh, ow] = nchw(op, args[1])?;
                let cg = ch / c.groups.max(1);
                check_conv(c, ch, &args[0].shape, &[o, cg, *kh, *kw])?;
                if n != n2 || c.out_hw([h, w], [*kh, *kw])? != [oh, ow] {
                    return Err(operands());
                }
                f32_of(vec![o, cg, *kh, *kw])
            }
            WindowOp::MaxPool(p) | WindowOp::AvgPool(p) => {
                let [n, ch, h, w] = nchw(op, args[0])?;
                check_pool(op, p)?;
                let [oh, ow] = p.out_hw(op, [h, w])?;
                f32_of(vec![n, ch, oh, ow])
            }
            WindowOp::MaxPoolGrad(p) => {
                let [n, ch, h, w] = nchw(op, args[0])?;
                let g = nchw(op, args[1])?;
                check_pool(op, p)?;
                let [oh, ow] = p.out_hw(op, [h, w])?;
                if g != [n, ch, oh, ow] {
                    return Err(operands());
                }
                f32_of(args[0].shape.clone())
            }
            WindowOp::AvgPoolGrad(p, [h, w]) => {
                let [n, ch, oh, ow] = nchw(op, args[0])?;
                check_pool(op, p)?;
                if p.out_hw(op, [*h, *w])? != [oh, ow] {
                    return Err(operands());
                }
                f32_of(vec![n, ch, *h, *w])
            }
        }
    }

    /// The f64 reference semantics; `out` is the node's type.
    pub fn eval(&self, args: &[&Tensor], out: &Type) -> Tensor {
        let mut y = vec![0.0; out.numel()];
        match self {
            WindowOp::Conv(c) => {
                let (x, w) = (args[0], args[1]);
                conv_terms(c, &x.shape, &w.shape, &out.shape, |xi, wi, yi| y[yi] += x.data[xi] * w.data[wi]);
            }
            WindowOp::ConvInput(c, _) => {
                let (g, w) = (args[0], args[1]);
                conv_terms(c, &out.shape, &w.shape, &g.shape, |xi, wi, yi| y[xi] += g.data[yi] * w.data[wi]);
            }
            WindowOp::ConvWeight(c, _) => {
                let (x, g) = (args[0], args[1]);
                conv_terms(c, &x.shape, &out.shape, &g.shape, |xi, wi, yi| y[wi] += x.data[xi] * g.data[yi]);
            }
            WindowOp::MaxPool(p) => {
                let x = args[0];
                pool_terms(p, &x.shape, &out.shape, |yi, taps| y[yi] = x.data[first_max(&x.data, taps)]);
            }
            WindowOp::MaxPoolGrad(p) => {
                let (x, g) = (args[0], args[1]);
                pool_terms(p, &x.shape, &g.shape, |yi, taps| y[first_max(&x.data, taps)] += g.data[yi]);
            }
            WindowOp::AvgPool(p) => {
                let x = args[0];
                let count = (p.kernel[0] * p.kernel[1]) as f64;
                pool_terms(p, &x.shape, &out.shape, |yi, taps| {
                    y[yi] = taps.iter().map(|&t| x.data[t]).sum::<f64>() / count;
                });
            }
            WindowOp::AvgPoolGrad(p, _) => {
                let g = args[0];
                let count = (p.kernel[0] * p.kernel[1]) as f64;
                pool_terms(p, &out.shape, &g.shape, |yi, taps| {
                    for &t in taps {
                        y[t] += g.data[yi] / count;
                    }
                });
            }
        }
        Tensor::new(out.shape.clone(), y)
    }

    /// The gradient each operand of `y = op(args)` receives when `y` receives `g`.
    pub fn vjp(&self, gr: &mut Graph, args: &[NodeId], g: NodeId, wants: &[bool]) -> Vec<Option<NodeId>> {
        // The `[H, W]` (or `[KH, KW]`) of each operand, all rank 4.
        let hw: Vec<[usize; 2]> = args.iter().map(|&a| [gr.ty(a).shape[2], gr.ty(a).shape[3]]).collect();
        let mut build = |i: usize, op: WindowOp, a: Vec<NodeId>| wants[i].then(|| gr.build(Op::Window(op), a));
        match *self {
            // y = conv(x, w), linear in each: y[yi] = Σ x[xi] w[wi] over the terms (xi, wi, yi)
            // dx[xi] = Σ g[yi] w[wi] = conv_input(g, w), dw[wi] = Σ x[xi] g[yi] = conv_weight(x, g)
            WindowOp::Conv(c) => {
                let (x, w) = (args[0], args[1]);
                let (in_hw, k_hw) = (hw[0], hw[1]);
                let dx = build(0, WindowOp::ConvInput(c, in_hw), vec![g, w]);
                let dw = build(1, WindowOp::ConvWeight(c, k_hw), vec![x, g]);
                vec![dx, dw]
            }
            // y = conv_input(a, w): y[xi] = Σ a[yi] w[wi]
            // da[yi] = Σ g[xi] w[wi] = conv(g, w), dw[wi] = Σ g[xi] a[yi] = conv_weight(g, a)
            WindowOp::ConvInput(c, _) => {
                let (a, w) = (args[0], args[1]);
                let k_hw = hw[1];
                let da = build(0, WindowOp::Conv(c), vec![g, w]);
                let dw = build(1, WindowOp::ConvWeight(c, k_hw), vec![g, a]);
                vec![da, dw]
            }
            // y = conv_weight(x, a): y[wi] = Σ x[xi] a[yi]
            // dx[xi] = Σ g[wi] a[yi] = conv_input(a, g), da[yi] = Σ x[xi] g[wi] = conv(x, g)
            WindowOp::ConvWeight(c, _) => {
                let (x, a) = (args[0], args[1]);
                let in_hw = hw[0];
                let dx = build(0, WindowOp::ConvInput(c, in_hw), vec![a, g]);
                let da = build(1, WindowOp::Conv(c), vec![x, g]);
                vec![dx, da]
            }
            // y[yi] = x[m(yi)], m(yi) the first maximum of window yi (piecewise constant in x)
            // dx[xi] = Σ over windows whose maximum is xi of g[yi]
            WindowOp::MaxPool(p) => vec![build(0, WindowOp::MaxPoolGrad(p), vec![args[0], g])],
            // Autodiff differentiates each loss once, and no stdlib optimizer or layer takes a
            // gradient of a gradient (see `autodiff::tests::window_grads_are_first_order`), so
            // this op is never differentiated; its VJP would need a gather by the argmax.
            WindowOp::MaxPoolGrad(_) => panic!(
                "internal compiler error: `max_pool2d_grad` was differentiated, but only first-order \
                 gradients are ever built"
            ),
            // y[yi] = Σ over window yi of x[xi] / (KH·KW), padding counting as zeros
            // dx[xi] = Σ over windows containing xi of g[yi] / (KH·KW) = avg_pool_grad(g)
            WindowOp::AvgPool(p) => {
                let in_hw = hw[0];
                vec![build(0, WindowOp::AvgPoolGrad(p, in_hw), vec![g])]
            }
            // y = avg_pool_grad(a), linear: its adjoint is avg_pool
            WindowOp::AvgPoolGrad(p, _) => vec![build(0, WindowOp::AvgPool(p), vec![g])],
        }
    }
}

/// Checks a convolution's attributes against the input's channels `ch`.
fn check_conv(c: &Conv2d, ch: usize, x: &[usize], w: &[usize]) -> Result<(), ShapeError> {
    let op = "conv2d";
    if c.groups == 0 || (0..2).any(|i| c.stride[i] == 0 || c.dilation[i] == 0) {
        return Err(WindowError::Zero { op }.into());
    }
    if !ch.is_multiple_of(c.groups) || !w[0].is_multiple_of(c.groups) {
        return Err(WindowError::Channels { input: x.to_vec(), weight: w.to_vec(), groups: c.groups }.into());
    }
    Ok(())
}

/// Checks a pooling window's attributes.
fn check_pool(op: &'static str, p: &Pool2d) -> Result<(), ShapeError> {
    if (0..2).any(|i| p.kernel[i] == 0 || p.stride[i] == 0) {
        return Err(WindowError::Zero { op }.into());
    }
    Ok(())
}

/// Why a window op cannot be applied to its operands (a [`ShapeError::Window`]).
#[derive(Debug, Clone, PartialEq)]
pub enum WindowError {
    /// An operand that is not of rank 4.
    Rank {
        /// The op's name.
        op: &'static str,
        /// The operand's shape.
        shape: Shape,
    },
    /// Weights whose channels do not fit the input's, or channels not divisible by the groups.
    Channels {
        /// The input's shape.
        input: Shape,
        /// The weights' shape.
        weight: Shape,
        /// The groups.
        groups: usize,
    },
    /// A (dilated) window larger than the padded input.
    Larger {
        /// The op's name.
        op: &'static str,
        /// The window's extent.
        window: [usize; 2],
        /// The padded input's extent.
        padded: [usize; 2],
    },
    /// Pooling padding of more than half the window.
    Padding {
        /// The op's name.
        op: &'static str,
        /// The window.
        kernel: [usize; 2],
        /// The padding.
        pad: [usize; 2],
    },
    /// A kernel, stride, dilation or groups of zero.
    Zero {
        /// The op's name.
        op: &'static str,
    },
}

/// The one place window errors are worded.
impl std::fmt::Display for WindowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pair = |p: &[usize; 2]| format!("{}x{}", p[0], p[1]);
        match self {
            WindowError::Rank { op, shape } => {
                write!(f, "`{op}` needs a value of rank 4 [N, C, H, W], found shape {}", fmt_shape(shape))
            }
            WindowError::Channels { input, weight, groups } => {
                let per_group = if input.len() == 4 && input[1].is_multiple_of(*groups) {
                    format!("{} input channels per group", input[1] / groups)
                } else {
                    format!("input channels divisible by groups = {groups}")
                };
                write!(
                    f,
                    "`conv2d` of an input {} and weights {} with groups = {groups} needs {per_group} \
                     (weights [O, C/groups, KH, KW]) and O divisible by groups",
                    fmt_shape(input),
                    fmt_shape(weight)
                )
            }
            WindowError::Larger { op, window, padded } => {
                write!(f, "`{op}`'s window {} is larger than its padded input {}", pair(window), pair(padded))
            }
            WindowError::Padding { op, kernel, pad } => write!(
                f,
                "`{op}` pads at most half its window on each side, found padding {} for a {} window",
                pair(pad),
                pair(kernel)
            ),
            WindowError::Zero { op } => write!(f, "`{op}` needs a kernel, stride, dilation and groups of at least 1"),
        }
    }
}

/// Calls `f(xi, wi, yi)` for every term `x[xi] · w[wi]` of output element `y[yi]` of a
/// convolution: flat row-major indices into the input `x`, the weights `w` and the output `y`.
/// Taps in the padding have no term.
fn conv_terms(c: &Conv2d, x: &[usize], w: &[usize], y: &[usize], mut f: impl FnMut(usize, usize, usize)) {
    let (n, ch, h, wd) = (x[0], x[1], x[2], x[3]);
    let (o, cg, kh, kw) = (w[0], w[1], w[2], w[3]);
    let (oh, ow) = (y[2], y[3]);
    let og = o / c.groups;
    for b in 0..n {
        for oc in 0..o {
            let group = oc / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((b * o + oc) * oh + oy) * ow + ox;
                    for ci in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * c.stride[0] + ky * c.dilation[0]).checked_sub(c.pad_lo[0]);
                                let ix = (ox * c.stride[1] + kx * c.dilation[1]).checked_sub(c.pad_lo[1]);
                                let (Some(iy), Some(ix)) = (iy, ix) else { continue };
                                if iy >= h || ix >= wd {
                                    continue;
                                }
                                let xi = ((b * ch + group * cg + ci) * h + iy) * wd + ix;
                                let wi = ((oc * cg + ci) * kh + ky) * kw + kx;
                                f(xi, wi, yi);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Calls `f(yi, taps)` for every output element of a pooling: `taps` are the flat indices into
/// `x` of the window's elements inside the input (not the padding), in row-major window order.
fn pool_terms(p: &Pool2d, x: &[usize], y: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let (h, w) = (x[2], x[3]);
    let (oh, ow) = (y[2], y[3]);
    let mut taps = Vec::with_capacity(p.kernel[0] * p.kernel[1]);
    for plane in 0..x[0] * x[1] {
        for oy in 0..oh {
            for ox in 0..ow {
                taps.clear();
                for ky in 0..p.kernel[0] {
                    for kx in 0..p.kernel[1] {
                        let iy = (oy * p.stride[0] + ky).checked_sub(p.pad[0]);
                        let ix = (ox * p.stride[1] + kx).checked_sub(p.pad[1]);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            if iy < h && ix < w {
                                taps.push((plane * h + iy) * w + ix);
                            }
                        }
                    }
                }
                f((plane * oh + oy) * ow + ox, &taps);
            }
        }
    }
}

/// The tap holding the window's maximum, PyTorch's rule: start at -inf with the first tap, and
/// move on to a tap that is greater or NaN. A window has at least one tap since its padding is
/// at most half of it.
fn first_max(x: &[f64], taps: &[usize]) -> usize {
    let (mut best, mut at) = (f64::NEG_INFINITY, taps[0]);
    for &t in taps {
        if x[t] > best || x[t].is_nan() {
            best = x[t];
            at = t;
        }
    }
    at
}

impl From<WindowError> for ShapeError {
    fn from(e: WindowError) -> ShapeError {
        ShapeError::Window(e)
    }
}
