//! Large elementwise kernels at two threads: each half of the kernel's outermost loop dim is a
//! function of its own (`lower_half`), which the step hands to `gradc_halves`.

use cranelift_codegen::ir::{types, FuncRef, Function, InstBuilder, Value};
use cranelift_frontend::FunctionBuilderContext;

use super::{begin, Dim, Lowerer, Target};
use crate::codegen::helpers::Callees;
use crate::codegen::kernel::{Elementwise, Kernel, Program};
use crate::codegen::memplan::Plan;
use crate::codegen::CodegenError;

/// Elementwise kernels of at least this many elements run in two halves at two threads.
pub(crate) const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

/// The kernel, if `k` runs in two halves at `threads`: a large elementwise kernel at two threads.
pub(crate) fn halved(k: &Kernel, threads: usize) -> Option<&Elementwise> {
    let Kernel::Elementwise(e) = k else { return None };
    (threads > 1 && e.shape.iter().product::<usize>() >= PARALLEL_MIN_ELEMENTS).then_some(e)
}

/// Builds the body of `func` (signature `(arena)`) from half `half` (0 or 1) of an elementwise
/// kernel: the elements of that half of its outermost loop dim.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lower_half(
    program: &Program,
    plan: &Plan,
    kernel: &Elementwise,
    half: usize,
    callees: &Callees,
    target: Target,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<(), CodegenError> {
    let (b, params) = begin(func, fctx);
    let &[arena] = params.as_slice() else {
        return Err(CodegenError::Internal("a kernel half takes one parameter".into()));
    };
    let mut l = Lowerer { b, arena, program, plan, callees, fma: target.fma, threads: 1 };
    l.elementwise(kernel, Some(half))?;
    l.b.ins().return_(&[]);
    l.b.finalize(target.config);
    Ok(())
}

impl Lowerer<'_> {
    /// Calls `gradc_halves` with the addresses of a kernel's two compiled halves.
    pub(super) fn halves(&mut self, [first, second]: [FuncRef; 2]) -> Result<(), CodegenError> {
        let callee =
            self.callees.halves.ok_or_else(|| CodegenError::Internal("gradc_halves was not declared".into()))?;
        // Pointers are i64, as `int` and `ptr` assume.
        let first = self.b.ins().func_addr(types::I64, first);
        let second = self.b.ins().func_addr(types::I64, second);
        self.b.ins().call(callee, &[first, second, self.arena]);
        Ok(())
    }

    /// Narrows a kernel's loop dims (`dims`, after `collapse`) and stream pointers to half
    /// `half` of the outermost dim.
    pub(super) fn keep_half(&mut self, half: usize, dims: &mut [Dim], ptrs: &mut [Value]) {
        // A row is cut at a multiple of four so that the vector loop and the scalar remainder
        // cover the same elements as the whole row's do.
        let whole = dims.len() == 1;
        let d = &mut dims[0];
        let cut = if whole { d.n / 2 / 4 * 4 } else { d.n / 2 };
        let (lo, hi) = if half == 0 { (0, cut) } else { (cut, d.n) };
        for (p, &stride) in ptrs.iter_mut().zip(&d.strides) {
            if lo * stride > 0 {
                *p = self.b.ins().iadd_imm_s(*p, (lo * stride * 4) as i64);
            }
        }
        d.n = hi - lo;
    }
}
