//! Memory plan: places every value of a scheduled program in one arena of 4-byte slots.
//!
//! Assumes the kernels are in schedule order (as `fuse` returns them). Guarantees: every value
//! has an offset, aligned to 64 bytes (16 slots), inside `slots`; two values never share space
//! while both are live; nothing needs allocating while the step runs.
//!
//! Decisions:
//! - Inputs (data, labels, parameters, state, step) are persistent and come first, in input order.
//! - A temporary lives from the kernel that writes it to the last kernel that reads it, both
//!   inclusive (a kernel never writes over its own operands); a value the caller reads after the
//!   run (a non-in-place output, or the source of a final copy) lives to the end. Space is reused
//!   first-fit in schedule order.
//! - An in-place output (a parameter or state update) is written straight into its input when
//!   that is safe: the producing kernel is the last reader of the input, and it reads the input
//!   only at the index it writes (an elementwise kernel with a contiguous load), so every element
//!   is read before it is overwritten. Otherwise the value gets a temporary and is copied into
//!   the input after the last kernel, so no kernel ever sees a new value where it expects the old.
//! - i32 values take one slot per element like f32.

use std::fmt::Write;

use super::fuse;
use super::kernel::{row_major, Expr, Kernel, Program, ValueId};
use super::CodegenError;
use crate::ir::Graph;

/// Where every value lives.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Slot offset of each value, indexed like `Program::values`.
    pub offsets: Vec<usize>,
    /// Arena size in slots.
    pub slots: usize,
    /// After the last kernel, copy each value `.0` into input `.1`.
    pub copies: Vec<(ValueId, ValueId)>,
    /// Values computed straight into an input's storage: `(value, input)`.
    pub direct: Vec<(ValueId, ValueId)>,
    /// First and last kernel of each temporary's life, for the printout.
    live: Vec<Option<(usize, usize)>>,
}

/// Alignment of every buffer, in slots: 64 bytes, a cache line.
const ALIGN: usize = 16;

/// Plans the arena of a program.
pub fn plan(p: &Program) -> Result<Plan, CodegenError> {
    let (nv, nk) = (p.values.len(), p.kernels.len());
    let mut producer = vec![None; nv];
    let mut last_read: Vec<Option<usize>> = vec![None; nv];
    for (i, k) in p.kernels.iter().enumerate() {
        for v in k.writes() {
            producer[v] = Some(i);
        }
        for v in k.reads() {
            last_read[v] = Some(i);
        }
    }

    let mut home: Vec<Option<ValueId>> = vec![None; nv];
    let mut to_end = vec![false; nv];
    let mut copies = Vec::new();
    let mut direct = Vec::new();
    for o in &p.outputs {
        let Some(input) = p.in_place_target(o) else {
            to_end[o.value] = true;
            continue;
        };
        if o.value == input {
            continue;
        }
        let writer = producer[o.value];
        if home[o.value].is_none()
            && p.values[o.value].input.is_none()
            && writer.is_some_and(|k| safe_in_place(p, k, input, &last_read))
        {
            home[o.value] = Some(input);
            direct.push((o.value, input));
        } else {
            copies.push((o.value, input));
            to_end[o.value] = true;
        }
    }

    let mut offsets = vec![0; nv];
    let mut top = 0;
    for (v, value) in p.values.iter().enumerate() {
        if value.input.is_some() {
            offsets[v] = top;
            top += padded(value.ty.numel());
        }
    }
    let base = top;
    let mut live = vec![None; nv];
    // Live temporaries: (offset, size, last kernel), sorted by offset.
    let mut blocks: Vec<(usize, usize, usize)> = Vec::new();
    for (t, k) in p.kernels.iter().enumerate() {
        for v in k.writes() {
            if let Some(input) = home[v] {
                offsets[v] = offsets[input];
                continue;
            }
            let end = if to_end[v] { nk } else { last_read[v].unwrap_or(t).max(t) };
            let size = padded(p.values[v].ty.numel());
            let off = first_fit(&blocks, base, size);
            let at = blocks.partition_point(|b| b.0 < off);
            blocks.insert(at, (off, size, end));
            offsets[v] = off;
            top = top.max(off + size);
            live[v] = Some((t, end));
        }
        blocks.retain(|b| b.2 > t);
    }
    if top.checked_mul(4).is_none_or(|b| b > isize::MAX as usize) {
        return Err(CodegenError::ArenaTooLarge { bytes: top.saturating_mul(4) });
    }
    Ok(Plan { offsets, slots: top, copies, direct, live })
}

/// A buffer's size in slots, rounded up to the alignment (at least one line, so offsets differ).
fn padded(numel: usize) -> usize {
    numel.div_ceil(ALIGN).max(1) * ALIGN
}

/// The lowest offset at or above `base` where `size` slots fit between the live blocks.
fn first_fit(blocks: &[(usize, usize, usize)], base: usize, size: usize) -> usize {
    let mut at = base;
    for &(off, len, _) in blocks {
        if off >= at + size {
            break;
        }
        at = at.max(off + len);
    }
    at
}

/// Whether kernel `k` may write its result straight into `input`: no later kernel reads the
/// input, and `k` reads it only element for element at the index it writes.
fn safe_in_place(p: &Program, k: usize, input: ValueId, last_read: &[Option<usize>]) -> bool {
    if last_read[input].is_some_and(|r| r > k) {
        return false;
    }
    match &p.kernels[k] {
        Kernel::Elementwise(e) => {
            let dense = row_major(&e.shape);
            e.body.iter().all(|x| match x {
                Expr::Load { value, strides, offset } => *value != input || (*strides == dense && *offset == 0),
                Expr::Const(_) | Expr::Unary(..) | Expr::Binary(..) | Expr::Select(..) | Expr::Cast(..) => true,
            })
        }
        kernel @ (Kernel::Reduce(_)
        | Kernel::MatMul(_)
        | Kernel::OneHot { .. }
        | Kernel::Argmax { .. }
        | Kernel::Window { .. }
        | Kernel::Concat { .. }
        | Kernel::Gather { .. }
        | Kernel::Rand { .. }
        | Kernel::AllSum { .. }) => !kernel.reads().contains(&input),
    }
}

/// The memory plan of a graph, printed.
pub fn print_plan(graph: &Graph) -> Result<String, CodegenError> {
    let program = fuse::fuse(graph)?;
    let plan = plan(&program)?;
    Ok(plan.print(&program))
}

impl Plan {
    /// Prints the plan: one line per value with its byte offset, size and live range.
    pub fn print(&self, p: &Program) -> String {
        let mut out = format!("memory plan {}: {} bytes\n", p.name, self.slots * 4);
        // Writing to a String cannot fail.
        writeln!(out, "  {:<20} {:>10} {:>10}  live", "value", "offset", "bytes").expect("write to String");
        for (v, value) in p.values.iter().enumerate() {
            let bytes = value.ty.numel() * 4;
            let live = match (value.input, self.live[v], self.direct.iter().find(|d| d.0 == v)) {
                (Some(_), _, _) => "input".to_string(),
                (None, _, Some(&(_, input))) => format!("in place of {}", p.values[input].name),
                (None, Some((a, b)), None) if b == p.kernels.len() => format!("k{a}..end"),
                (None, Some((a, b)), None) => format!("k{a}..k{b}"),
                (None, None, None) => "unused".to_string(),
            };
            writeln!(out, "  {:<20} {:>10} {:>10}  {live}", value.name, self.offsets[v] * 4, bytes)
                .expect("write to String");
        }
        for &(from, to) in &self.copies {
            writeln!(out, "after the last kernel: copy {} -> {}", p.values[from].name, p.values[to].name)
                .expect("write to String");
        }
        out
    }
}
