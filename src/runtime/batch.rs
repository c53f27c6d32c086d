//! Mini-batching: the order in which the training loop visits a dataset's rows, and which of
//! each batch's rows a rank of a distributed run takes.

use super::errors;
use crate::collective::Place;
use crate::data::{Dataset, LabelsOut};
use crate::diag::{Diag, Span};
use crate::rng::Rng;

/// Cuts a dataset's rows into mini-batches, optionally in a fresh random order every epoch.
///
/// Batches `0..full_batches()` have `batch_size` rows; if `remainder() > 0`, one more batch of
/// that many rows follows. Filling a batch copies rows into caller buffers and never allocates.
#[derive(Debug, Clone)]
pub struct Batcher {
    batch_size: usize,
    /// Row indices of the current epoch, in batch order.
    order: Vec<usize>,
    /// Source of per-epoch permutations; `None` keeps the dataset's order.
    shuffle: Option<Rng>,
    /// The rank whose share of each batch [`Batcher::indices`] gives.
    place: Place,
}

impl Batcher {
    /// A batcher over `n` rows, positioned at epoch 0; `span` is where the batch size was given.
    ///
    /// With `shuffle`, epoch `e`'s order is a function of the generator's seed and `e` alone,
    /// so a run resumed at epoch `e` sees the same batches as an uninterrupted one.
    pub fn new(n: usize, batch_size: usize, shuffle: Option<Rng>, span: Span) -> Result<Batcher, Diag> {
        if batch_size == 0 {
            return Err(errors::batch_size_zero(span));
        }
        let mut batcher = Batcher { batch_size, order: (0..n).collect(), shuffle, place: Place::ALONE };
        batcher.start_epoch(0);
        Ok(batcher)
    }

    /// The batcher of one rank of a distributed run: batches, their order and the epochs'
    /// shuffles are the single process's, and each batch gives the rank its share of its rows
    /// ([`Place::share`]).
    pub fn for_rank(self, place: Place) -> Batcher {
        Batcher { place, ..self }
    }

    /// Rows per full batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Number of batches with exactly `batch_size` rows.
    pub fn full_batches(&self) -> usize {
        self.order.len() / self.batch_size
    }

    /// Rows in the final partial batch (0 when `batch_size` divides `n`).
    pub fn remainder(&self) -> usize {
        self.order.len() % self.batch_size
    }

    /// Number of batches per epoch, counting a partial one.
    pub fn num_batches(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// Reorders the rows for epoch `epoch` (a no-op without shuffling).
    pub fn start_epoch(&mut self, epoch: u64) {
        if let Some(rng) = &self.shuffle {
            // Restart from the identity so the order depends on the epoch number only.
            for (i, slot) in self.order.iter_mut().enumerate() {
                *slot = i;
            }
            rng.fork(&format!("epoch {epoch}")).shuffle(&mut self.order);
        }
    }

    /// The dataset rows in batch `b` of the current epoch (this rank's share of them).
    ///
    /// # Panics
    /// If `b >= num_batches()`.
    pub fn indices(&self, b: usize) -> &[usize] {
        assert!(b < self.num_batches(), "batch {b} of {}", self.num_batches());
        let start = b * self.batch_size;
        let batch = &self.order[start..(start + self.batch_size).min(self.order.len())];
        &batch[self.place.share(batch.len())]
    }

    /// Copies batch `b`'s features into `x_out` (row-major) and labels into `y_out`; returns its row count.
    ///
    /// Buffers sized for a full batch also fit the partial one, whose rows fill their prefix.
    ///
    /// # Panics
    /// If `b` is out of range, `ds` has a different row count, a buffer is too small, or
    /// `y_out`'s kind does not match `ds.labels`.
    pub fn fill_batch(&self, ds: &Dataset, b: usize, x_out: &mut [f32], y_out: LabelsOut<'_>) -> usize {
        assert_eq!(ds.n, self.order.len(), "batcher built for {} rows used on {}", self.order.len(), ds.n);
        let rows = self.indices(b);
        ds.copy_features(rows, x_out);
        ds.copy_labels(rows, y_out);
        rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::generate::tests::{classes, span, targets};
    use crate::data::generate::{blobs, sine, xor, Blobs, Sine, Xor};

    #[test]
    fn batcher_counts_and_fills_without_shuffling() {
        let ds = sine(&Sine { n: 10, noise: 0.0 }, 0, span()).unwrap();
        let b = Batcher::new(ds.n, 4, None, span()).unwrap();
        assert_eq!((b.batch_size(), b.full_batches(), b.remainder(), b.num_batches()), (4, 2, 2, 3));
        let (mut x, mut y) = ([f32::NAN; 4], [f32::NAN; 4]);
        assert_eq!(b.fill_batch(&ds, 1, &mut x, LabelsOut::Targets(&mut y)), 4);
        assert_eq!(x, ds.features[4..8]);
        assert_eq!(y, targets(&ds)[4..8]);
        // The partial batch fills a prefix and leaves the rest of the buffers alone.
        let (mut x, mut y) = ([-1.0; 4], [-1.0; 4]);
        assert_eq!(b.fill_batch(&ds, 2, &mut x, LabelsOut::Targets(&mut y)), 2);
        assert_eq!(x, [ds.features[8], ds.features[9], -1.0, -1.0]);
        assert_eq!(b.indices(2), [8, 9]);
        let exact = Batcher::new(12, 4, None, span()).unwrap();
        assert_eq!((exact.full_batches(), exact.remainder(), exact.num_batches()), (3, 0, 3));
        let big = Batcher::new(3, 8, None, span()).unwrap();
        assert_eq!((big.full_batches(), big.remainder(), big.num_batches()), (0, 3, 1));
    }

    #[test]
    fn batcher_shuffles_per_epoch_reproducibly() {
        let ds = blobs(&Blobs { n: 30, classes: 3, dim: 2, std: 1.0 }, 0, span()).unwrap();
        let rng = Rng::new(8);
        let mut b = Batcher::new(ds.n, 8, Some(rng.clone()), span()).unwrap();
        let epoch = |b: &Batcher| -> Vec<usize> { (0..b.num_batches()).flat_map(|i| b.indices(i).to_vec()).collect() };
        let e0 = epoch(&b);
        b.start_epoch(1);
        let e1 = epoch(&b);
        assert_ne!(e0, (0..30).collect::<Vec<_>>());
        assert_ne!(e0, e1);
        let mut sorted = e1.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..30).collect::<Vec<_>>());
        // Epoch 1's order does not depend on having run epoch 0 first.
        let mut fresh = Batcher::new(ds.n, 8, Some(rng), span()).unwrap();
        fresh.start_epoch(1);
        assert_eq!(epoch(&fresh), e1);
        b.start_epoch(0);
        assert_eq!(epoch(&b), e0);
        // Filled rows and labels follow the indices.
        let (mut x, mut y) = ([0.0; 16], [0; 8]);
        b.fill_batch(&ds, 0, &mut x, LabelsOut::Classes(&mut y));
        for (j, &i) in b.indices(0).iter().enumerate() {
            assert_eq!(x[2 * j..2 * j + 2], *ds.row(i));
            assert_eq!(y[j], classes(&ds).0[i]);
        }
    }

    #[test]
    fn ranks_share_the_single_process_batches() {
        let alone = Batcher::new(23, 8, Some(Rng::new(3)), span()).unwrap();
        for ranks in [2, 3, 4] {
            let mut parts: Vec<Batcher> =
                (0..ranks).map(|rank| alone.clone().for_rank(Place { rank, ranks })).collect();
            for epoch in 0..2 {
                let mut single = alone.clone();
                single.start_epoch(epoch);
                parts.iter_mut().for_each(|p| p.start_epoch(epoch));
                for b in 0..single.num_batches() {
                    let joined: Vec<usize> = parts.iter().flat_map(|p| p.indices(b).to_vec()).collect();
                    assert_eq!(joined, single.indices(b), "{ranks} ranks, epoch {epoch}, batch {b}");
                }
            }
        }
    }

    #[test]
    fn batcher_rejects_zero_batch_size() {
        let d = Batcher::new(10, 0, None, span()).unwrap_err();
        assert_eq!((d.code, d.message.as_str()), (errors::DATA_BATCH, "the batch size must be at least 1"));
    }

    #[test]
    #[should_panic(expected = "does not match dataset labels classes")]
    fn batcher_panics_on_mismatched_label_buffer() {
        let ds = xor(&Xor::default(), 0, span()).unwrap();
        let b = Batcher::new(ds.n, 4, None, span()).unwrap();
        b.fill_batch(&ds, 0, &mut [0.0; 8], LabelsOut::Targets(&mut [0.0; 4]));
    }
}
