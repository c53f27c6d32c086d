//! One compiled graph with the arena slots the loop touches every step resolved once, when the
//! runner is made: data inputs by role, the step's own inputs and outputs by [`StepInput`] and
//! [`StepOutput`].

use crate::codegen::{Executable, Record};
use crate::data::{Dataset, Labels, LabelsOut};
use crate::ir::{Graph, InputRole, OutputRole, StepInput, StepOutput};

/// The values of the step inputs for one run of a graph.
#[derive(Debug, Clone, Copy)]
pub struct Steps {
    /// The 1-based update number.
    pub t: usize,
    /// Whether this micro-batch applies the update.
    pub apply: bool,
    /// Epochs completed.
    pub epoch: usize,
    /// The plateau rule's multiplier of the learning rate.
    pub lr_scale: f64,
    /// The run's seed.
    pub seed: u64,
    /// Micro-batches run before this one, over the whole run (resumed runs included).
    pub micro: usize,
}

/// Native code for one graph at one batch size, with its step slots resolved.
pub struct Runner {
    /// The compiled graph.
    pub exe: Executable,
    outputs: Vec<(String, OutputRole)>,
    x: Option<usize>,
    y: Option<usize>,
    /// The slot of each step input, in the order of [`StepInput::ALL`].
    steps: [Option<usize>; StepInput::ALL.len()],
    /// The step inputs the graph has, and where each starts in a step record.
    steps_at: Vec<(StepInput, usize)>,
    /// Where the features and the labels start in a data record.
    x_at: Option<usize>,
    y_at: Option<usize>,
    loss: Option<usize>,
    lr: Option<usize>,
    /// The other hyper-parameters the schedule sets, by name, and their slots.
    hypers: Vec<(String, usize)>,
    update_norm: Option<usize>,
    /// The gradient-health statistics (`--grad-stats`), by output name, and their slots.
    stats: Vec<(String, usize)>,
}

impl Runner {
    /// Wraps `exe`, compiled from `graph`.
    pub fn new(graph: &Graph, exe: Executable) -> Runner {
        let by_role = |role| graph.inputs.iter().find(|i| i.role == role).and_then(|i| exe.input_slot(&i.name));
        let output = |which: StepOutput| exe.output_slot(which.name());
        let slots = |role| {
            let of_role = graph.outputs.iter().filter(|o| o.role == role);
            of_role.filter_map(|o| Some((o.name.clone(), exe.output_slot(&o.name)?))).collect()
        };
        let (x, y) = (by_role(InputRole::Data), by_role(InputRole::Label));
        let steps = StepInput::ALL.map(|which| exe.input_slot(which.name()));
        let at = |slot: Option<usize>| slot.and_then(|s| exe.record_offset(s));
        Runner {
            outputs: graph.outputs.iter().map(|o| (o.name.clone(), o.role)).collect(),
            x,
            y,
            steps,
            steps_at: StepInput::ALL.into_iter().zip(steps).filter_map(|(w, s)| Some((w, at(s)?))).collect(),
            x_at: at(x),
            y_at: at(y),
            loss: output(StepOutput::Loss),
            lr: output(StepOutput::Lr),
            hypers: slots(OutputRole::Hyper),
            stats: slots(OutputRole::Stat),
            update_norm: output(StepOutput::UpdateNorm),
            exe,
        }
    }

    /// Copies the dataset rows `rows` (as many as this step takes) into the data inputs.
    pub fn load_rows(&mut self, data: &Dataset, rows: &[usize]) {
        if let Some(x) = self.x {
            data.copy_features(rows, self.exe.slot_mut(x));
        }
        let Some(y) = self.y else { return };
        let out = match &data.labels {
            Labels::Classes { .. } => LabelsOut::Classes(self.exe.slot_i32_mut(y)),
            Labels::Targets { .. } => LabelsOut::Targets(self.exe.slot_mut(y)),
            Labels::None => return,
        };
        data.copy_labels(rows, out);
    }

    /// Sets the step inputs the graph has: the update number `t`, whether this micro-batch
    /// applies the update, the epoch, the plateau scale of the learning rate, and what `rand`
    /// draws from.
    pub fn set_steps(&mut self, s: &Steps) {
        for (which, slot) in StepInput::ALL.into_iter().zip(self.steps) {
            if let Some(slot) = slot {
                write_step(which, s, self.exe.slot_mut(slot));
            }
        }
    }

    /// Fills one step record of the executable (see [`Executable::run_steps`]) with the values
    /// `set_steps` would set.
    pub fn step_record(&self, s: &Steps, record: &mut [f32]) {
        for &(which, at) in &self.steps_at {
            write_step(which, s, &mut record[at..]);
        }
    }

    /// Fills one data record of the executable with the dataset rows `rows` (a full batch), as
    /// `load_rows` fills the data inputs.
    pub fn data_record(&self, data: &Dataset, rows: &[usize], record: &mut [f32]) {
        if let Some(at) = self.x_at {
            data.copy_features(rows, &mut record[at..]);
        }
        let Some(at) = self.y_at else { return };
        let out = &mut record[at..];
        let out = match &data.labels {
            // SAFETY: f32 and i32 have the same size and alignment and every bit pattern is
            // valid for both; the borrow of `out` moves into the result.
            Labels::Classes { .. } => {
                LabelsOut::Classes(unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<i32>(), out.len()) })
            }
            Labels::Targets { .. } => LabelsOut::Targets(out),
            Labels::None => return,
        };
        data.copy_labels(rows, out);
    }

    /// Words of one record of this kind.
    pub fn record_len(&self, kind: Record) -> usize {
        self.exe.record_len(kind)
    }

    /// The loss of the last run.
    pub fn loss(&self) -> f64 {
        // Every forward graph has a loss output (sema adds it).
        loss_value(self.exe.output_at(self.loss.expect("graphs have a loss"))[0])
    }

    /// The learning rate of the last run, NaN if the graph has none.
    pub fn lr(&self) -> f64 {
        self.scalar(self.lr)
    }

    /// The hyper-parameters other than the learning rate that the schedule set for the last
    /// run (`momentum`, `beta1`), by name; empty without such a schedule.
    pub fn hypers(&self) -> Vec<(String, f64)> {
        self.hypers.iter().map(|(n, s)| (n.clone(), self.scalar(Some(*s)))).collect()
    }

    /// The update norm of the last run, NaN if the graph has none.
    pub fn update_norm(&self) -> f64 {
        self.scalar(self.update_norm)
    }

    /// The gradient-health statistics of the last run, by output name (as
    /// [`crate::ir::Stat::output_name`] makes them); empty for a step compiled without them.
    pub fn stats(&self) -> Vec<(String, f64)> {
        self.stats.iter().map(|(n, s)| (n.clone(), self.scalar(Some(*s)))).collect()
    }

    fn scalar(&self, slot: Option<usize>) -> f64 {
        slot.map_or(f64::NAN, |s| f64::from(self.exe.output_at(s)[0]))
    }

    /// The names of the graph's outputs with this role.
    pub fn outputs(&self, role: OutputRole) -> Vec<String> {
        self.outputs.iter().filter(|o| o.1 == role).map(|o| o.0.clone()).collect()
    }

    /// Copies parameters and optimizer state from another executable.
    pub fn take_state(&mut self, from: &Executable, names: &[String]) {
        for name in names {
            if let (Some(src), Some(dst)) = (from.input(name), self.exe.input_mut(name)) {
                dst.copy_from_slice(src);
            }
        }
    }
}

/// A step's loss as reported. Adding +0 turns a loss of -0 (`-mean(...)` of zeros) into 0, so
/// no report shows `-0.0000`; any other value is kept.
pub fn loss_value(loss: f32) -> f64 {
    f64::from(loss) + 0.0
}

/// Writes the value of step input `which` for `s` to the front of `out`: an f32 scalar, or
/// the random number generator's three i32 words (as f32 bits).
#[inline]
fn write_step(which: StepInput, s: &Steps, out: &mut [f32]) {
    let value = match which {
        StepInput::T => s.t as f64,
        StepInput::Apply => f64::from(u8::from(s.apply)),
        StepInput::Epoch => s.epoch as f64,
        StepInput::LrScale => s.lr_scale,
        StepInput::Rng => {
            // The words carry the bits of u32s: the seed's halves and the counter, which wraps
            // after 2³² micro-batches.
            let words = [s.seed as u32, (s.seed >> 32) as u32, s.micro as u32];
            for (o, w) in out.iter_mut().zip(words) {
                *o = f32::from_bits(w);
            }
            return;
        }
    };
    out[0] = value as f32;
}
