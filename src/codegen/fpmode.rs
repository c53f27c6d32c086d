//! Flushing subnormal floats to zero while a step runs, when the train block asks for it
//! (`flush_denormals = true`, as `torch.set_flush_denormal(True)` does; XLA flushes by default).
//!
//! x86 cores take a slow microcode assist for subnormal operands and results, so a
//! model whose values decay towards zero (a small network trained to a tiny loss) slows by
//! several times as it converges. Flushing trades the gradual underflow below 2^-126 for speed.
//!
//! Decisions: the mode is set around each call into the compiled step and restored after it, so
//! the host code of the runtime never runs flushed; the split worker takes the caller's mode with
//! each job (see `split`), so a step gives the same bits at one and two threads. The control word
//! is read and written with inline assembly because the `_mm_setcsr` intrinsic is deprecated.
//! On targets other than x86-64 and aarch64 the mode is never changed: there the key has no
//! effect.

/// A thread's floating-point control word (MXCSR on x86-64, FPCR on aarch64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mode(u64);

/// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) bits.
#[cfg(target_arch = "x86_64")]
const FLUSH: u64 = 0x8040;

/// FPCR's flush-to-zero bit, which on aarch64 flushes subnormal inputs and results alike.
#[cfg(target_arch = "aarch64")]
const FLUSH: u64 = 1 << 24;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const FLUSH: u64 = 0;

impl Mode {
    /// The calling thread's mode.
    pub(crate) fn current() -> Mode {
        Mode(read())
    }

    /// This mode with subnormal inputs and results flushed to zero.
    pub(crate) fn flushing(self) -> Mode {
        Mode(self.0 | FLUSH)
    }
}

/// A mode set on this thread until the guard drops (on unwinding too), which restores the one
/// before.
pub(crate) struct Scope(Option<Mode>);

impl Scope {
    /// Sets `mode` on this thread; nothing is written when it is already set.
    pub(crate) fn enter(mode: Mode) -> Scope {
        let before = Mode::current();
        if before == mode {
            return Scope(None);
        }
        write(mode.0);
        Scope(Some(before))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            write(before.0);
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn read() -> u64 {
    let mut csr: u32 = 0;
    // SAFETY: `stmxcsr` stores the 32-bit control word to the given address, a live local.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
    u64::from(csr)
}

#[cfg(target_arch = "x86_64")]
fn write(mode: u64) {
    // Every mode comes from a 32-bit `read`, with at most FLUSH added: nothing is cut off.
    let csr = mode as u32;
    // SAFETY: `ldmxcsr` loads the control word from a live local; the value is one `read`
    // returned with at most the two flush bits added, so no reserved bit is set.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly)) };
}

#[cfg(target_arch = "aarch64")]
fn read() -> u64 {
    let fpcr: u64;
    // SAFETY: reading FPCR has no side effect.
    unsafe { std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags)) };
    fpcr
}

#[cfg(target_arch = "aarch64")]
fn write(mode: u64) {
    // SAFETY: the value is one `read` returned with at most the flush bit added.
    unsafe { std::arch::asm!("msr fpcr, {}", in(reg) mode, options(nomem, nostack, preserves_flags)) };
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn read() -> u64 {
    0
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn write(_: u64) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `mode` flushes subnormals.
    fn flushes(mode: Mode) -> bool {
        FLUSH != 0 && mode.0 & FLUSH == FLUSH
    }

    /// Keeps a subnormal from being folded away at compile time.
    fn halve(x: f32) -> f32 {
        std::hint::black_box(x) * 0.5
    }

    #[test]
    fn a_scope_flushes_and_restores() {
        let tiny = f32::MIN_POSITIVE;
        assert!(halve(tiny) > 0.0, "gradual underflow by default");
        let before = Mode::current();
        assert!(!flushes(before));
        {
            let _flushed = Scope::enter(before.flushing());
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                assert!(flushes(Mode::current()));
                assert_eq!(halve(tiny), 0.0, "a subnormal result is flushed");
            }
        }
        assert_eq!(Mode::current(), before);
        assert!(halve(tiny) > 0.0);
    }
}
