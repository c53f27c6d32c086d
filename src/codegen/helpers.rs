//! Rust functions the generated code calls: GEMM, the two halves of a large elementwise kernel,
//! one-hot, argmax, `powf`, any unary op by the
//! op table's semantics (`sin`/`cos` beyond the polynomial's range, the f64 transcendentals of
//! scalar kernels, ops with no inline code), and `floorf`/`floor`
//! for Cranelift's fallback on x86 hosts without SSE4.1.
//!
//! Decisions: GEMM goes to the `gemm` crate (through `matmul`, which splits large products over
//! two threads), which reaches ~96% of peak and takes row and column strides, so transposed
//! operands cost nothing. One-hot and argmax are short, branchy loops run
//! once per step over small data; calling out keeps them obviously right at ~2 ns per call.
//! `powf` is called per element for a general exponent (integral constant exponents are
//! multiplications, emitted inline), so a negative base with an integral exponent is exact.
//! Every function is registered by name with the JIT builder, so no symbol is looked up in the
//! process at large.

use cranelift_codegen::ir::{types, AbiParam, FuncRef, Function, Signature};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module};

use super::matmul::{self, Mat};
use super::split;
use super::window::Path;
use super::CodegenError;
use crate::ir::UnOp;

/// Jobs of the window helpers' own two-thread split ([`crate::codegen::window`]) with at least
/// this many multiply-adds use two threads when allowed: below it the hand-off costs more than
/// the second thread saves.
pub(crate) const PARALLEL_MIN_FLOPS: usize = 1 << 20;

/// `dst[m, n] = op(a) @ op(b)`, where element (i, p) of op(a) is `a[i * a_rs + p * a_cs]` and
/// element (p, j) of op(b) is `b[p * b_rs + j * b_cs]`; `dst` is row-major.
///
/// # Safety
/// The pointers must address buffers that hold every element those strides reach, and `dst`
/// must not overlap `a` or `b`.
// The generated code passes everything in registers and on the stack; a struct would need building in memory.
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn gradc_matmul(
    dst: *mut f32,
    a: *const f32,
    b: *const f32,
    m: usize,
    n: usize,
    k: usize,
    a_rs: isize,
    a_cs: isize,
    b_rs: isize,
    b_cs: isize,
    threads: usize,
) {
    if k == 0 {
        // SAFETY: `dst` holds m·n elements.
        unsafe { std::ptr::write_bytes(dst, 0, m * n) };
        return;
    }
    // SAFETY: guaranteed by the caller.
    unsafe {
        matmul::product(
            (m, n, k),
            dst,
            n,
            Mat { ptr: a, rs: a_rs, cs: a_cs },
            Mat { ptr: b, rs: b_rs, cs: b_cs },
            false,
            threads,
        )
    }
}

/// A compiled half of an elementwise kernel: `(arena)`.
type Half = unsafe extern "C" fn(*mut u8);

/// Runs `first(arena)` on this thread and `second(arena)` on the split worker (or both here,
/// if the worker is late): the two halves of one elementwise kernel (`lower::lower_half`).
///
/// # Safety
/// `first` and `second` must be halves compiled for this arena, which write disjoint elements.
unsafe extern "C" fn gradc_halves(first: Half, second: Half, arena: *mut u8) {
    // A raw pointer is not `Sync`; both halves get the same arena.
    let at = arena as usize;
    let half = |_: Path, unit: usize, _: [&mut [f32]; 3]| {
        let f = if unit == 0 { first } else { second };
        // SAFETY: guaranteed by the caller.
        unsafe { f(at as *mut u8) }
    };
    split::run(true, 2, [0; 3], &half);
}

/// Writes one-hot rows `out[n, classes]` for i32 `labels[n]`; a label outside the range gives a
/// zero row.
///
/// # Safety
/// `labels` must hold `n` elements and `out` `n · classes`.
unsafe extern "C" fn gradc_one_hot(labels: *const i32, n: usize, classes: usize, out: *mut f32) {
    // SAFETY: guaranteed by the caller; the arena holds no Rust references during a run.
    let (labels, out) =
        unsafe { (std::slice::from_raw_parts(labels, n), std::slice::from_raw_parts_mut(out, n * classes)) };
    out.fill(0.0);
    for (row, &label) in labels.iter().enumerate() {
        if let Ok(c) = usize::try_from(label) {
            if c < classes {
                out[row * classes + c] = 1.0;
            }
        }
    }
}

/// For `x` viewed as `[outer, len, inner]`, writes the index along `len` of the largest element
/// (the first on ties; a NaN is never larger, unless first) to `out[outer, inner]`.
///
/// # Safety
/// `x` must hold `outer · len · inner` elements and `out` `outer · inner`.
unsafe extern "C" fn gradc_argmax(x: *const f32, outer: usize, len: usize, inner: usize, out: *mut i32) {
    // SAFETY: guaranteed by the caller.
    let (x, out) = unsafe {
        (std::slice::from_raw_parts(x, outer * len * inner), std::slice::from_raw_parts_mut(out, outer * inner))
    };
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| x[(o * len + j) * inner + i];
            let mut best = 0;
            for j in 1..len {
                if at(j) > at(best) {
                    best = j;
                }
            }
            // An empty axis has no index: -1, as the interpreter says.
            out[o * inner + i] = if len == 0 { -1 } else { best as i32 };
        }
    }
}

/// Copies `rows` rows of `len` 4-byte elements (f32 or i32) from contiguous `src` into `dst`,
/// whose rows start `dst_row` elements apart: one part of a `concat`.
///
/// # Safety
/// `src` must hold `rows · len` elements, `dst` reach `(rows - 1) · dst_row + len`, and the two
/// must not overlap.
unsafe extern "C" fn gradc_copy_rows(dst: *mut u32, src: *const u32, rows: usize, len: usize, dst_row: usize) {
    for r in 0..rows {
        // SAFETY: guaranteed by the caller.
        unsafe { std::ptr::copy_nonoverlapping(src.add(r * len), dst.add(r * dst_row), len) };
    }
}

/// `out[i, :] = table[ids[i], :]` for `n` ids over a `[rows, row]` table; an id outside
/// `0..rows` gives a zero row, as one-hot does.
///
/// # Safety
/// `ids` must hold `n` elements, `table` `rows · row` and `out` `n · row`, not overlapping.
unsafe extern "C" fn gradc_gather(
    out: *mut f32,
    table: *const f32,
    ids: *const i32,
    n: usize,
    rows: usize,
    row: usize,
) {
    // SAFETY: guaranteed by the caller.
    let (out, table, ids) = unsafe {
        (
            std::slice::from_raw_parts_mut(out, n * row),
            std::slice::from_raw_parts(table, rows * row),
            std::slice::from_raw_parts(ids, n),
        )
    };
    for (dst, &id) in out.chunks_exact_mut(row.max(1)).zip(ids) {
        match usize::try_from(id) {
            Ok(r) if r < rows => dst.copy_from_slice(&table[r * row..(r + 1) * row]),
            Ok(_) | Err(_) => dst.fill(0.0),
        }
    }
}

/// `out[i] = counter_uniform(seed, key, counter, first + i)` for `n` elements, with the seed and
/// counter read from the `rng` step input's words `[seed_lo, seed_hi, counter]`.
///
/// # Safety
/// `words` must hold 3 i32s and `out` `n` f32s.
unsafe extern "C" fn gradc_rand(out: *mut f32, n: usize, key: u64, words: *const i32, first: u64) {
    // SAFETY: guaranteed by the caller.
    let (out, words) = unsafe { (std::slice::from_raw_parts_mut(out, n), std::slice::from_raw_parts(words, 3)) };
    let word = |i: usize| words[i] as u32;
    let seed = u64::from(word(0)) | u64::from(word(1)) << 32;
    for (i, o) in out.iter_mut().enumerate() {
        *o = crate::rng::counter_uniform(seed, key, word(2), first + i as u64);
    }
}

/// `out[r, :] = sum of g[i, :] over ids[i] == r` for a `[rows, row]` result; ids outside
/// `0..rows` are dropped. Rows add in id order, as the interpreter adds them.
///
/// # Safety
/// `ids` must hold `n` elements, `g` `n · row` and `out` `rows · row`, not overlapping.
unsafe extern "C" fn gradc_scatter_add(
    out: *mut f32,
    g: *const f32,
    ids: *const i32,
    n: usize,
    rows: usize,
    row: usize,
) {
    // SAFETY: guaranteed by the caller.
    let (out, g, ids) = unsafe {
        (
            std::slice::from_raw_parts_mut(out, rows * row),
            std::slice::from_raw_parts(g, n * row),
            std::slice::from_raw_parts(ids, n),
        )
    };
    out.fill(0.0);
    for (src, &id) in g.chunks_exact(row.max(1)).zip(ids) {
        if let Ok(r) = usize::try_from(id) {
            if r < rows {
                out[r * row..(r + 1) * row].iter_mut().zip(src).for_each(|(o, &s)| *o += s);
            }
        }
    }
}

/// `out = Σ over ranks of src` (`collective::all_sum`), `n` elements on every rank.
///
/// # Safety
/// `src` and `out` must each hold `n` elements, not overlapping.
unsafe extern "C" fn gradc_all_sum(out: *mut f32, src: *const f32, n: usize) {
    // SAFETY: guaranteed by the caller.
    let (out, src) = unsafe { (std::slice::from_raw_parts_mut(out, n), std::slice::from_raw_parts(src, n)) };
    crate::collective::all_sum(src, out);
}

/// `a^b`.
extern "C" fn gradc_powf(a: f32, b: f32) -> f32 {
    a.powf(b)
}

/// `a^b` in f64, for scalar kernels.
extern "C" fn gradc_pow64(a: f64, b: f64) -> f64 {
    a.powf(b)
}

/// Unary op `code` (its index in `UnOp::ALL`) in f64 by the op table's own semantics: the
/// transcendentals of scalar kernels, so they compute exactly what the interpreter does.
extern "C" fn gradc_unary64(code: u32, x: f64) -> f64 {
    match UnOp::from_code(code) {
        Some(op) => op.eval(x),
        // Codes come from `UnOp::code` at compile time; an unknown one cannot be emitted.
        None => f64::NAN,
    }
}

/// Unary op `code` on an f32, computed in f64 and rounded: for ops or arguments the inline
/// code does not cover (e.g. `sin` beyond the polynomial's range).
extern "C" fn gradc_unary32(code: u32, x: f32) -> f32 {
    gradc_unary64(code, f64::from(x)) as f32
}

/// `floor x`: Cranelift's libcall for an f32 `floor` when the host has no SSE4.1 `roundss`.
extern "C" fn libcall_floorf(x: f32) -> f32 {
    x.floor()
}

/// `floor x`: Cranelift's libcall for an f64 `floor` when the host has no SSE4.1 `roundsd`.
extern "C" fn libcall_floor(x: f64) -> f64 {
    x.floor()
}

/// The helpers as the generated function refers to them.
pub(crate) struct Callees {
    /// `gradc_matmul`.
    pub(crate) matmul: FuncRef,
    /// `gradc_one_hot`.
    pub(crate) one_hot: FuncRef,
    /// `gradc_argmax`.
    pub(crate) argmax: FuncRef,
    /// `codegen::window::gradc_window`, declared only for a program with a window kernel (so
    /// the CLIF of other programs is unchanged).
    pub(crate) window: Option<FuncRef>,
    /// `gradc_gather`.
    pub(crate) gather: FuncRef,
    /// `gradc_scatter_add`.
    pub(crate) scatter_add: FuncRef,
    /// `gradc_copy_rows`.
    pub(crate) copy_rows: FuncRef,
    /// `gradc_rand`, declared only for a program that draws random numbers.
    pub(crate) rand: Option<FuncRef>,
    /// `gradc_all_sum`, declared only for a program that sums over the ranks.
    pub(crate) all_sum: Option<FuncRef>,
    /// `gradc_halves`, declared only for a step with an elementwise kernel run in halves.
    pub(crate) halves: Option<FuncRef>,
    /// `gradc_powf`.
    pub(crate) powf: FuncRef,
    /// `gradc_pow64`.
    pub(crate) pow64: FuncRef,
    /// `gradc_unary64`.
    pub(crate) unary64: FuncRef,
    /// `gradc_unary32`.
    pub(crate) unary32: FuncRef,
}

/// Registers every helper's address with the JIT builder.
pub(crate) fn register(jit: &mut JITBuilder) {
    jit.symbol("gradc_matmul", gradc_matmul as *const u8);
    jit.symbol("gradc_one_hot", gradc_one_hot as *const u8);
    jit.symbol("gradc_argmax", gradc_argmax as *const u8);
    jit.symbol("gradc_window", super::window::gradc_window as *const u8);
    jit.symbol("gradc_copy_rows", gradc_copy_rows as *const u8);
    jit.symbol("gradc_gather", gradc_gather as *const u8);
    jit.symbol("gradc_scatter_add", gradc_scatter_add as *const u8);
    jit.symbol("gradc_rand", gradc_rand as *const u8);
    jit.symbol("gradc_all_sum", gradc_all_sum as *const u8);
    jit.symbol("gradc_halves", gradc_halves as *const u8);
    jit.symbol("gradc_powf", gradc_powf as *const u8);
    jit.symbol("gradc_pow64", gradc_pow64 as *const u8);
    jit.symbol("gradc_unary64", gradc_unary64 as *const u8);
    jit.symbol("gradc_unary32", gradc_unary32 as *const u8);
    // The names Cranelift's default libcall table gives `floor` when it is not an instruction.
    jit.symbol("floorf", libcall_floorf as *const u8);
    jit.symbol("floor", libcall_floor as *const u8);
}

/// The helpers declared only for programs that call them, so that the CLIF of the others does
/// not change when one is added.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Optional {
    /// The program has a convolution or pooling kernel.
    pub(crate) window: bool,
    /// The program draws random numbers.
    pub(crate) rand: bool,
    /// The program sums a value over the ranks of a distributed run.
    pub(crate) all_sum: bool,
    /// The step runs an elementwise kernel in two halves (`lower::halved`).
    pub(crate) halves: bool,
}

/// Declares the helpers in the module and makes them callable from `func`.
pub(crate) fn declare(
    module: &mut JITModule,
    func: &mut Function,
    optional: Optional,
) -> Result<Callees, CodegenError> {
    let ptr = module.target_config().pointer_type();
    let mut import = |name: &str, params: &[types::Type], ret: Option<types::Type>| -> Result<FuncRef, CodegenError> {
        let mut sig: Signature = module.make_signature();
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        sig.returns.extend(ret.map(AbiParam::new));
        let id = module.declare_function(name, Linkage::Import, &sig)?;
        Ok(module.declare_func_in_func(id, func))
    };
    Ok(Callees {
        matmul: import("gradc_matmul", &[ptr; 11], None)?,
        one_hot: import("gradc_one_hot", &[ptr; 4], None)?,
        argmax: import("gradc_argmax", &[ptr; 5], None)?,
        powf: import("gradc_powf", &[types::F32, types::F32], Some(types::F32))?,
        pow64: import("gradc_pow64", &[types::F64, types::F64], Some(types::F64))?,
        unary64: import("gradc_unary64", &[types::I32, types::F64], Some(types::F64))?,
        unary32: import("gradc_unary32", &[types::I32, types::F32], Some(types::F32))?,
        window: if optional.window { Some(import("gradc_window", &[ptr; 6], None)?) } else { None },
        copy_rows: import("gradc_copy_rows", &[ptr; 5], None)?,
        gather: import("gradc_gather", &[ptr; 6], None)?,
        scatter_add: import("gradc_scatter_add", &[ptr; 6], None)?,
        rand: if optional.rand { Some(import("gradc_rand", &[ptr; 5], None)?) } else { None },
        all_sum: if optional.all_sum { Some(import("gradc_all_sum", &[ptr; 3], None)?) } else { None },
        halves: if optional.halves { Some(import("gradc_halves", &[ptr; 3], None)?) } else { None },
    })
}
