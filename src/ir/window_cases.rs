//! The convolution corner cases every test of the window ops runs: the finite-difference
//! checks in autodiff and the JIT-against-interpreter checks in codegen.

use super::Conv2d;

/// A convolution with these attributes; `pad` is `[lo, hi]` on both axes.
pub(crate) fn conv(stride: usize, pad: [usize; 2], dilation: usize, groups: usize) -> Conv2d {
    Conv2d { stride: [stride; 2], pad_lo: [pad[0]; 2], pad_hi: [pad[1]; 2], dilation: [dilation; 2], groups }
}

/// (input [N, C, H, W], weights [O, C/g, KH, KW], geometry): stride 1 and 2, padding 0, 1 and
/// `same` for an even kernel, dilation 2, groups 2, a 1x1 kernel, odd sizes and batch 1.
pub(crate) fn conv_cases() -> Vec<([usize; 4], [usize; 4], Conv2d)> {
    vec![
        ([2, 2, 5, 5], [3, 2, 3, 3], conv(1, [0, 0], 1, 1)),
        ([1, 1, 6, 7], [2, 1, 3, 3], conv(2, [1, 1], 1, 1)),
        // `same` for an even kernel: one more on the bottom/right.
        ([1, 2, 4, 5], [2, 2, 2, 2], conv(1, [0, 1], 1, 1)),
        ([2, 1, 7, 6], [1, 1, 3, 2], conv(1, [1, 1], 2, 1)),
        ([1, 4, 5, 4], [2, 2, 3, 3], conv(2, [1, 1], 1, 2)),
        ([1, 3, 3, 5], [2, 3, 1, 1], conv(1, [0, 0], 1, 1)),
    ]
}
