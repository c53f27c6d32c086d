//! Code generation: a graph becomes one native function that runs the whole step.
//!
//! The pipeline, one file per stage:
//! - [`fuse`] partitions the graph into the kernels of [`kernel`] (fused elementwise loops,
//!   reductions with their producer chains, GEMM calls, one-hot and argmax);
//! - [`memplan`] places every buffer in one arena: inputs persistent, temporaries reused by
//!   liveness, in-place parameter and state updates written straight into the input when safe;
//! - `lower` emits one Cranelift function `gradc_step(arena, n, steps, data, losses)` that runs
//!   every kernel in schedule order `n` times (see [`Executable::run_steps`]), with `f32x4` loops and polynomial `exp`/`log`/`tanh`/`sin`/`cos` from `math`, calling the
//!   Rust helpers in `helpers` for GEMM, one-hot, argmax, `powf` and out-of-range `sin`/`cos`;
//! - [`Executable`] owns the JIT module, the arena and the entry point: one native call per `run`.
//!
//! Decisions: `fuse` and `memplan` live here rather than in `src/passes/` because they produce
//! code-generation data (kernels, arena offsets), not graphs; the graph passes stay graph → graph.
//! The arena is addressed through the function's one argument rather than baked-in addresses, so
//! the code does not depend on where the arena was allocated.

mod fpmode;
pub mod fuse;
mod helpers;
pub mod kernel;
mod lower;
mod math;
mod matmul;
pub mod memplan;
mod split;
mod window;

use std::time::{Duration, Instant};

use cranelift_codegen::ir::{types, AbiParam, FuncRef, Function, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module, ModuleError};

use crate::ir::{DType, Graph, InputRole, OutputRole};

pub use fuse::print_kernels;
pub use memplan::print_plan;

/// How to compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    /// Run Cranelift's IR verifier (costs 30–60% compile time; for tests).
    pub verify: bool,
    /// Keep the CLIF text of the compiled function, for `gradc ir --stage clif`.
    pub keep_clif: bool,
    /// Threads GEMM may use: 1, or 2 for large products.
    pub threads: usize,
    /// Flush subnormal floats to zero while the step runs (the train block's `flush_denormals`).
    pub flush_denormals: bool,
}

impl Default for CompileOptions {
    fn default() -> CompileOptions {
        CompileOptions { verify: false, keep_clif: false, threads: 1, flush_denormals: false }
    }
}

/// What went wrong in code generation: internal faults or resource limits, never user errors.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The graph broke an invariant the code generator relies on.
    #[error("internal code generator error: {0}")]
    Internal(String),
    /// The arena the plan needs cannot be allocated.
    #[error("the step needs an arena of {bytes} bytes, which cannot be allocated")]
    ArenaTooLarge {
        /// Requested size.
        bytes: usize,
    },
    /// The host is not a Cranelift target or a setting was rejected.
    #[error("cannot set up the native code generator: {0}")]
    Isa(String),
    /// Cranelift's verifier rejected the generated function (a code generator bug).
    #[error("generated code failed verification:\n{0}")]
    Verifier(String),
    /// Cranelift failed to compile or link the function (boxed: the error is large).
    #[error("cranelift: {0}")]
    Module(#[source] Box<ModuleError>),
}

impl From<ModuleError> for CodegenError {
    fn from(e: ModuleError) -> CodegenError {
        CodegenError::Module(Box::new(e))
    }
}

/// Figures about one compilation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Kernels in the schedule, final in-place copies included.
    pub kernels: usize,
    /// CLIF instructions in the generated function before optimisation.
    pub clif_insts: usize,
    /// Size of the arena.
    pub arena_bytes: usize,
    /// Wall time of `Executable::compile`.
    pub compile_time: Duration,
}

/// Where a named input or output lives in the arena.
#[derive(Debug, Clone)]
struct Slot {
    name: String,
    dtype: DType,
    offset: usize,
    len: usize,
}

/// The compiled step: owns the JIT code, the arena and the kernel schedule.
pub struct Executable {
    /// Always `Some` until `drop`, which frees the code with it.
    module: Option<JITModule>,
    entry: StepFn,
    arena: Arena,
    inputs: Vec<Slot>,
    outputs: Vec<Slot>,
    /// The input indices of the step inputs and of the data inputs, in record order.
    records: [Vec<usize>; 2],
    kernels: String,
    /// Each `all_sum` the step runs, in order: which of the graph's it is, and its length.
    collectives: Vec<(usize, usize)>,
    clif: Option<String>,
    stats: Stats,
    /// Run the step with subnormals flushed to zero.
    flush_denormals: bool,
}

/// The compiled function: the arena's base address, the iterations to run, the step and data
/// records (or null), where to store each iteration's loss; returns the iterations run.
type StepFn = unsafe extern "C" fn(*mut u8, i64, *const f32, *const f32, *mut f32) -> i64;

/// The two kinds of record [`Executable::run_steps`] feeds: the step inputs (`t`, `epoch`,
/// `rng`, ...) and the data inputs (a batch of features and labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// The inputs of role `Step`, in input order.
    Steps,
    /// The inputs of role `Data` and `Label`, in input order.
    Data,
}

/// Turns the finalized code address into a callable function pointer.
///
/// # Safety
/// `code` must be the finalized address of a function defined with the signature of [`StepFn`]
/// and the host's default calling convention, and the JIT module that owns it must outlive every call.
unsafe fn step_fn(code: *const u8) -> StepFn {
    // SAFETY: guaranteed by the caller; a code pointer and a fn pointer have the same size.
    unsafe { std::mem::transmute::<*const u8, StepFn>(code) }
}

impl Executable {
    /// Compiles a graph: fuse, plan memory, lower to CLIF, JIT.
    pub fn compile(graph: &Graph, opts: &CompileOptions) -> Result<Executable, CodegenError> {
        let start = Instant::now();
        let program = fuse::fuse(graph)?;
        let plan = memplan::plan(&program)?;
        let arena = Arena::new(plan.slots)?;
        let fed = |roles: &[InputRole]| -> Vec<usize> {
            graph.inputs.iter().enumerate().filter(|(_, i)| roles.contains(&i.role)).map(|(k, _)| k).collect()
        };
        let records = [fed(&[InputRole::Step]), fed(&[InputRole::Data, InputRole::Label])];
        let fields =
            |inputs: &[usize]| inputs.iter().map(|&k| (plan.offsets[k], program.values[k].ty.numel())).collect();
        let loss = program.outputs.iter().find(|o| o.role == OutputRole::Loss).map(|o| plan.offsets[o.value]);
        let feed = lower::Feed { steps: fields(&records[0]), data: fields(&records[1]), loss };

        let isa = native_isa(opts, program.body_size() > LARGE_BODY)?;
        let fma = isa.has_native_fma();
        let mut jit = JITBuilder::with_isa(isa, default_libcall_names());
        helpers::register(&mut jit);
        let mut module = JITModule::new(jit);
        let threads = opts.threads.clamp(1, 2);
        let defined = define_step(&mut module, &program, &plan, &feed, fma, threads, opts.keep_clif);
        let (func_id, clif, clif_insts) = match defined {
            Ok(defined) => defined,
            Err(e) => {
                // SAFETY: no pointer into the module's code was handed out.
                unsafe { module.free_memory() };
                return Err(e);
            }
        };
        // SAFETY: `func_id` was defined with signature `(pointer)` and the default calling
        // convention; the module is stored in the Executable and freed only when it drops.
        let entry = unsafe { step_fn(module.get_finalized_function(func_id)) };

        let slot = |name: &str, v: kernel::ValueId| Slot {
            name: name.to_string(),
            dtype: program.values[v].ty.dtype,
            offset: plan.offsets[v],
            len: program.values[v].ty.numel(),
        };
        let inputs = graph.inputs.iter().enumerate().map(|(k, i)| slot(&i.name, k)).collect();
        let outputs =
            program.outputs.iter().map(|o| slot(&o.name, program.in_place_target(o).unwrap_or(o.value))).collect();
        let stats = Stats {
            kernels: program.kernels.len() + plan.copies.len(),
            clif_insts,
            arena_bytes: plan.slots * 4,
            compile_time: start.elapsed(),
        };
        Ok(Executable {
            module: Some(module),
            entry,
            arena,
            inputs,
            outputs,
            records,
            kernels: kernel::print_program(&program),
            collectives: program
                .kernels
                .iter()
                .filter_map(|k| {
                    if let kernel::Kernel::AllSum { seq, out, .. } = k {
                        Some((*seq, program.values[*out].ty.numel()))
                    } else {
                        None
                    }
                })
                .collect(),
            clif,
            stats,
            flush_denormals: opts.flush_denormals,
        })
    }

    /// The index of a named input, for the `slot_mut` fast path.
    pub fn input_slot(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|s| s.name == name)
    }

    /// The storage of the input with index `slot` (as from `input_slot`), as f32; panics on a bad index.
    pub fn slot_mut(&mut self, slot: usize) -> &mut [f32] {
        let s = &self.inputs[slot];
        self.arena.f32s_mut(s.offset, s.len)
    }

    /// The storage of the i32 input with index `slot` (as from `input_slot`); panics on a bad index.
    pub fn slot_i32_mut(&mut self, slot: usize) -> &mut [i32] {
        let s = &self.inputs[slot];
        self.arena.i32s_mut(s.offset, s.len)
    }

    /// The index of a named f32 output, for the `output_at` fast path.
    pub fn output_slot(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|s| s.name == name && s.dtype == DType::F32)
    }

    /// The f32 output with index `slot` (as from `output_slot`) of the last `run`; panics on a bad index.
    pub fn output_at(&self, slot: usize) -> &[f32] {
        let s = &self.outputs[slot];
        self.arena.f32s(s.offset, s.len)
    }

    /// The storage of an f32 input, to fill before `run`.
    pub fn input_mut(&mut self, name: &str) -> Option<&mut [f32]> {
        let s = self.inputs.iter().find(|s| s.name == name && s.dtype == DType::F32)?;
        Some(self.arena.f32s_mut(s.offset, s.len))
    }

    /// The storage of an i32 input (labels), to fill before `run`.
    pub fn input_i32_mut(&mut self, name: &str) -> Option<&mut [i32]> {
        let s = self.inputs.iter().find(|s| s.name == name && s.dtype == DType::I32)?;
        Some(self.arena.i32s_mut(s.offset, s.len))
    }

    /// An f32 input's current value: after `run`, parameters and state hold their new values.
    pub fn input(&self, name: &str) -> Option<&[f32]> {
        let s = self.inputs.iter().find(|s| s.name == name && s.dtype == DType::F32)?;
        Some(self.arena.f32s(s.offset, s.len))
    }

    /// An f32 output of the last `run` (for in-place outputs, the updated input).
    pub fn output(&self, name: &str) -> Option<&[f32]> {
        let s = self.outputs.iter().find(|s| s.name == name && s.dtype == DType::F32)?;
        Some(self.arena.f32s(s.offset, s.len))
    }

    /// An i32 output of the last `run`, e.g. predicted classes.
    pub fn output_i32(&self, name: &str) -> Option<&[i32]> {
        let s = self.outputs.iter().find(|s| s.name == name && s.dtype == DType::I32)?;
        Some(self.arena.i32s(s.offset, s.len))
    }

    /// Runs the step: one call into native code.
    pub fn run(&mut self) {
        let mut loss = 0.0;
        let _mode = self.mode();
        // SAFETY: the code reads and writes only arena slots below `plan.slots`, which is the
        // arena's length (memplan places every buffer inside it), and one loss; the module is
        // alive; null records are not read.
        unsafe { (self.entry)(self.arena.as_mut_ptr(), 1, std::ptr::null(), std::ptr::null(), &mut loss) };
    }

    /// Words of one record of this kind: the fed inputs' lengths summed.
    pub fn record_len(&self, kind: Record) -> usize {
        self.records[kind as usize].iter().map(|&k| self.inputs[k].len).sum()
    }

    /// Where input `slot` (as from `input_slot`) starts in its record, if it is fed.
    pub fn record_offset(&self, slot: usize) -> Option<usize> {
        self.records.iter().find_map(|inputs| {
            let at = inputs.iter().position(|&k| k == slot)?;
            Some(inputs[..at].iter().map(|&k| self.inputs[k].len).sum())
        })
    }

    /// Runs the step up to `n` times in one native call, stopping after the first whose loss is
    /// not finite; returns how many ran. Before step `i` it copies record `i` of `steps` and of
    /// `data` into their inputs (a `None` leaves the arena's values, as for a batch that stays
    /// put); after it, stores the step's loss in `losses[i]`. Running it with `n` records gives
    /// the bits `n` calls of `run` give with the same inputs set before each.
    ///
    /// # Panics
    /// If `n` is 0, or `losses` or a record buffer is shorter than `n` records.
    pub fn run_steps(&mut self, n: usize, steps: Option<&[f32]>, data: Option<&[f32]>, losses: &mut [f32]) -> usize {
        assert!(n >= 1 && losses.len() >= n, "{n} steps with room for {} losses", losses.len());
        let record = |kind: Record, buf: Option<&[f32]>| match buf {
            Some(b) => {
                assert!(b.len() >= n * self.record_len(kind), "{kind:?} records too short for {n} steps");
                b.as_ptr()
            }
            None => std::ptr::null(),
        };
        let (steps, data) = (record(Record::Steps, steps), record(Record::Data, data));
        let _mode = self.mode();
        // SAFETY: as in `run`; the record buffers hold `n` records each (checked above), and
        // `losses` holds `n` values.
        let done = unsafe { (self.entry)(self.arena.as_mut_ptr(), n as i64, steps, data, losses.as_mut_ptr()) };
        done as usize
    }

    /// Sets the floating-point mode the step runs in, until the guard drops.
    fn mode(&self) -> Option<fpmode::Scope> {
        self.flush_denormals.then(|| fpmode::Scope::enter(fpmode::Mode::current().flushing()))
    }

    /// The CLIF text of the compiled function, when compiled with `keep_clif`.
    pub fn clif(&self) -> Option<&str> {
        self.clif.as_deref()
    }

    /// The kernel schedule, as `print_kernels` prints it.
    pub fn kernels(&self) -> &str {
        &self.kernels
    }

    /// Each sum over the ranks the step runs, in the order it runs them: which of the graph's
    /// `all_sum`s it is (in node order) and its length. The ranks of a distributed run compare
    /// these before the first step, since their steps are compiled at their own shares' sizes.
    pub fn collectives(&self) -> &[(usize, usize)] {
        &self.collectives
    }

    /// Figures about the compilation.
    pub fn stats(&self) -> Stats {
        self.stats
    }
}

/// Declares, lowers, compiles and links the step function (and the halves of the kernels it
/// runs in halves, `lower::halved`); returns its id, and its CLIF text (when asked) and
/// instruction count.
fn define_step(
    module: &mut JITModule,
    program: &kernel::Program,
    plan: &memplan::Plan,
    feed: &lower::Feed,
    fma: bool,
    threads: usize,
    keep_clif: bool,
) -> Result<(FuncId, Option<String>, usize), CodegenError> {
    let target = lower::Target { config: module.target_config(), fma, threads };
    let mut fctx = FunctionBuilderContext::new();
    let mut half_ids = Vec::with_capacity(program.kernels.len());
    for (at, k) in program.kernels.iter().enumerate() {
        half_ids.push(match lower::halved(k, threads) {
            Some(e) => {
                let first = define_half(module, program, plan, e, (at, 0), target, &mut fctx)?;
                Some([first, define_half(module, program, plan, e, (at, 1), target, &mut fctx)?])
            }
            None => None,
        });
    }

    let mut sig = module.make_signature();
    let ptr = module.target_config().pointer_type();
    sig.params.extend([ptr, types::I64, ptr, ptr, ptr].map(AbiParam::new));
    sig.returns.push(AbiParam::new(types::I64));
    // A fixed name: graph names are free text and could collide with a helper.
    let func_id = module.declare_function("gradc_step", Linkage::Local, &sig)?;
    let mut ctx = Context::for_function(Function::with_name_signature(UserFuncName::user(0, func_id.as_u32()), sig));
    let uses = |f: fn(&kernel::Kernel) -> bool| program.kernels.iter().any(f);
    let optional = helpers::Optional {
        window: uses(|k| matches!(k, kernel::Kernel::Window { .. })),
        rand: uses(|k| matches!(k, kernel::Kernel::Rand { .. })),
        all_sum: uses(|k| matches!(k, kernel::Kernel::AllSum { .. })),
        halves: half_ids.iter().any(Option::is_some),
    };
    let callees = helpers::declare(module, &mut ctx.func, optional)?;
    let halves: Vec<Option<[FuncRef; 2]>> = half_ids
        .iter()
        .map(|ids| ids.map(|ids| ids.map(|id| module.declare_func_in_func(id, &mut ctx.func))))
        .collect();
    lower::lower(program, plan, feed, &callees, &halves, target, &mut ctx.func, &mut fctx)?;

    let clif_insts = ctx.func.layout.blocks().map(|b| ctx.func.layout.block_insts(b).count()).sum();
    let clif = keep_clif.then(|| ctx.func.display().to_string());
    define(module, func_id, &mut ctx)?;
    module.finalize_definitions()?;
    Ok((func_id, clif, clif_insts))
}

/// Declares, lowers and compiles half `half` of elementwise kernel `at`, `(arena)`.
fn define_half(
    module: &mut JITModule,
    program: &kernel::Program,
    plan: &memplan::Plan,
    k: &kernel::Elementwise,
    (at, half): (usize, usize),
    target: lower::Target,
    fctx: &mut FunctionBuilderContext,
) -> Result<FuncId, CodegenError> {
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(module.target_config().pointer_type()));
    let id = module.declare_function(&format!("gradc_k{at}_half{half}"), Linkage::Local, &sig)?;
    let mut ctx = Context::for_function(Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig));
    let optional = helpers::Optional { window: false, rand: false, all_sum: false, halves: false };
    let callees = helpers::declare(module, &mut ctx.func, optional)?;
    lower::lower_half(program, plan, k, half, &callees, target, &mut ctx.func, fctx)?;
    define(module, id, &mut ctx)?;
    Ok(id)
}

/// Compiles a lowered function into the module, with the verifier's findings as text.
fn define(module: &mut JITModule, id: FuncId, ctx: &mut Context) -> Result<(), CodegenError> {
    module.define_function(id, ctx).map_err(|e| {
        if let ModuleError::Compilation(cranelift_codegen::CodegenError::Verifier(errors)) = e {
            CodegenError::Verifier(cranelift_codegen::print_errors::pretty_verifier_error(&ctx.func, None, errors))
        } else {
            CodegenError::from(e)
        }
    })
}

impl Drop for Executable {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: `entry` points into this module's code and is never called after drop.
            unsafe { module.free_memory() }
        }
    }
}

/// Kernel-body expressions above which the step is register-allocated in a single pass:
/// regalloc2's backtracking allocator grows faster than linearly on one huge function (a chain
/// of 2^11 tanh calls, about 30,000 body expressions, took minutes), while every example's step
/// is under a tenth of this.
const LARGE_BODY: usize = 5000;

/// The host ISA with its native features (FMA, SSE4.1, AVX), so `fma` and `nearest` are
/// instructions; `large` picks the single-pass register allocator.
fn native_isa(opts: &CompileOptions, large: bool) -> Result<OwnedTargetIsa, CodegenError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, k: &str, v: &str| {
        flags.set(k, v).map_err(|e| CodegenError::Isa(format!("setting {k}={v}: {e}")))
    };
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "is_pic", "false")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "enable_verifier", if opts.verify { "true" } else { "false" })?;
    set(&mut flags, "regalloc_algorithm", if large { "single_pass" } else { "backtracking" })?;
    let isa = cranelift_native::builder().map_err(|e| CodegenError::Isa(e.to_string()))?;
    isa.finish(settings::Flags::new(flags)).map_err(|e| CodegenError::Isa(e.to_string()))
}

/// One cache line of the arena; the type gives the arena its 64-byte alignment.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// The step's memory: 4-byte slots, 64-byte aligned, allocated once at compile time.
struct Arena {
    lines: Vec<Line>,
}

impl Arena {
    fn new(slots: usize) -> Result<Arena, CodegenError> {
        let n = slots.div_ceil(16).max(1);
        let mut lines = Vec::new();
        lines.try_reserve_exact(n).map_err(|_| CodegenError::ArenaTooLarge { bytes: n * 64 })?;
        lines.resize(n, Line([0.0; 16]));
        Ok(Arena { lines })
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.lines.as_mut_ptr().cast()
    }

    fn flat(&self) -> &[f32] {
        // SAFETY: `Line` is `repr(C)` around `[f32; 16]` with no padding (64 bytes, align 64),
        // so `n` lines are exactly `16 * n` contiguous f32s.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.lines.len() * 16) }
    }

    fn flat_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `flat`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.lines.len() * 16) }
    }

    fn f32s(&self, offset: usize, len: usize) -> &[f32] {
        &self.flat()[offset..offset + len]
    }

    fn f32s_mut(&mut self, offset: usize, len: usize) -> &mut [f32] {
        &mut self.flat_mut()[offset..offset + len]
    }

    fn i32s(&self, offset: usize, len: usize) -> &[i32] {
        let f = self.f32s(offset, len);
        // SAFETY: f32 and i32 have the same size and alignment and every bit pattern is valid for both.
        unsafe { std::slice::from_raw_parts(f.as_ptr().cast::<i32>(), f.len()) }
    }

    fn i32s_mut(&mut self, offset: usize, len: usize) -> &mut [i32] {
        let f = self.f32s_mut(offset, len);
        // SAFETY: as in `i32s`; the borrow of `f` is moved into the result.
        unsafe { std::slice::from_raw_parts_mut(f.as_mut_ptr().cast::<i32>(), f.len()) }
    }
}

#[cfg(test)]
mod tests;
