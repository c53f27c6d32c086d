//! Rows a library caller holds in memory (the Python package's NumPy arrays) in place of data
//! files: the rows to train on, and rows to score or predict from, checked and preprocessed as
//! the files `gradc run`, `eval` and `predict` read are. Diagnostics name the arrays `x` and
//! `y` and point at no source: the arrays came from the caller.

use super::{errors, one_hot_classes, Compiled};
use crate::data::array::{dataset, Array};
use crate::data::errors::{inputs_shape, Origin, DATA_SHAPE};
use crate::data::source::{check_classes, labels_kind};
use crate::data::transform::Scaling;
use crate::data::{inputs, DataSpec, Dataset};
use crate::diag::{Diag, FileId, Span};

/// The name diagnostics give the features.
const X: &str = "x";
/// The name diagnostics give the labels.
const Y: &str = "y";

/// The rows of features `x` (`[N, ...]`) and labels `y` to train on: integer labels are
/// classes, float ones regression targets, as in an NPY file pair.
pub fn training(x: Array, y: Array) -> Result<Dataset, Diag> {
    // No declaration is at hand; the pointer is dropped anyway.
    let span = Span::new(FileId(0), 0, 0);
    dataset(x, &origin(X, span), y, &origin(Y, span)).map_err(unpointed)
}

/// The rows of features `x` to predict from with the compiled program `c`: rows of the shape
/// it trains on, preprocessed as its training rows, standardized with `scaling` (the
/// statistics of the checkpoint the weights come from).
pub fn predicting(c: &Compiled, x: Array, scaling: Option<&Scaling>) -> Result<Dataset, Diag> {
    let (train, spec) = super::score::predicting(c)?;
    inputs::from_array(x, &origin(X, spec.span), spec, &train.shape, scaling).map_err(unpointed)
}

/// The rows of features `x` and labels `y` to score the compiled program `c` on: rows of the
/// shape it trains on and labels of the same kind (classes within the model's), preprocessed as
/// its training rows, standardized with `scaling`.
pub fn scoring(c: &Compiled, x: Array, y: Array, scaling: Option<&Scaling>) -> Result<Dataset, Diag> {
    let (Some(train), Some(spec)) = (&c.data, c.module.data()) else {
        return Err(errors::eval_without_data());
    };
    if x.shape.get(1..) != Some(&train.shape[..]) {
        return Err(inputs_shape(X, &x.shape, &train.shape));
    }
    let rows = dataset(x, &origin(X, spec.span), y, &origin(Y, spec.span)).map_err(unpointed)?;
    let (mine, theirs) = (labels_kind(&rows.labels), labels_kind(&train.labels));
    if mine != theirs {
        return Err(errors::rows_labels_unlike(&mine, &theirs));
    }
    if let Some(classes) = one_hot_classes(&c.lowered.forward) {
        let named = DataSpec { name: Y.into(), ..spec.clone() };
        check_classes(&named, 0, &rows, None, None, classes).map_err(unpointed)?;
    }
    Ok(inputs::preprocess(spec, rows, scaling))
}

/// Where an array's diagnostics say it came from.
fn origin(name: &str, span: Span) -> Origin {
    Origin { file: name.into(), code: DATA_SHAPE, span }
}

/// A diagnostic about a caller's array without its pointer at the `data` declaration.
fn unpointed(mut d: Diag) -> Diag {
    d.label = None;
    d
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::data::array::Values;
    use crate::driver::{compile_resolved, compile_rows, parse_source, resolve};

    const PROGRAM: &str = r#"
use std.nn.dense
use std.loss.cross_entropy
data d = spirals(n: 40, classes: 2) |> scale(2.0) |> standardize |> split(val: 0.25)
model m(x: f32[B, 2]) -> f32[B, 2] { dense(x, 2) }
loss(x, y: i32[B]) = cross_entropy(m(x), y)
train { data = d, batch = 8, epochs = 1, optimizer = sgd(lr: 0.1) }
"#;

    fn module(text: &str) -> crate::sema::Module {
        let mut sources = crate::diag::SourceMap::default();
        let user = sources.add("t.grad", text.into());
        let mut front = parse_source(sources, user, PathBuf::new()).map_err(|e| e.0).unwrap();
        resolve(&mut front).unwrap()
    }

    fn array(shape: &[usize], values: Values) -> Array {
        Array { shape: shape.to_vec(), values }
    }

    #[test]
    fn rows_given_in_place_of_the_declaration_s_are_preprocessed_as_its_own() {
        let m = module(PROGRAM);
        let own = compile_resolved(m.clone(), &PathBuf::new(), None).unwrap();
        // The generator's rows before `scale`, which `compile_rows` applies as `read` does.
        let mut rows = crate::data::source::read(m.data().unwrap(), &PathBuf::new()).unwrap();
        rows.features.to_mut().iter_mut().for_each(|x| *x /= 2.0);
        let given = compile_rows(m, &PathBuf::new(), rows, None).unwrap();
        assert_eq!(given.data, own.data);
        assert_eq!(given.val, own.val);
        assert_eq!(given.scaling, own.scaling);
        assert!(own.scaling.is_some() && own.val.is_some());
    }

    #[test]
    fn rows_for_a_program_without_data_are_an_error() {
        let m = module("param t: f32 = 0.0\nloss = (t - 3.0)^2\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n");
        let rows =
            training(array(&[2, 1], Values::F32(vec![1.0, 2.0].into())), array(&[2], Values::I32(vec![0, 1]))).unwrap();
        let d = compile_rows(m, &PathBuf::new(), rows, None).err().unwrap();
        assert_eq!(d.code, errors::ROWS_DATA);
    }

    #[test]
    fn rows_to_score_have_the_training_rows_shape_and_labels() {
        let c = compile_resolved(module(PROGRAM), &PathBuf::new(), None).unwrap();
        let x = |d: usize| array(&[3, d], Values::F32(vec![0.5; 3 * d].into()));
        let classes = || array(&[3], Values::I64(vec![0, 1, 1]));
        let d = scoring(&c, x(3), classes(), None).unwrap_err();
        assert_eq!(d.code, DATA_SHAPE);
        assert!(d.message.contains("`x` holds an array of shape [3, 3]"), "{}", d.message);
        let d = scoring(&c, x(2), array(&[3], Values::F32(vec![0.0; 3].into())), None).unwrap_err();
        assert_eq!(d.message, "`y` holds one regression target, but the model was trained on class labels");
        let d = scoring(&c, x(2), array(&[3], Values::I32(vec![0, 2, 1])), None).unwrap_err();
        assert_eq!(d.code, crate::data::errors::DATA_LABEL);
        assert!(d.label.is_none(), "no pointer into the program for a caller's array");
        // Scaled as the declaration says, then standardized with the statistics given.
        let s = Scaling { mean: vec![1.0, 0.0], std: vec![0.5, 2.0] };
        let rows = scoring(&c, x(2), classes(), Some(&s)).unwrap();
        assert_eq!(rows.features, [0.0, 0.5].repeat(3));
        assert_eq!(predicting(&c, x(2), Some(&s)).unwrap().features, rows.features);
    }

    /// Features a caller lends, as the Python package lends a NumPy array's buffer.
    struct Lent(Vec<f32>);

    impl crate::data::buffer::Elements<f32> for Lent {
        fn elements(&self) -> &[f32] {
            &self.0
        }
    }

    #[test]
    fn rows_a_caller_lends_are_read_in_place_unless_preprocessing_rewrites_them() {
        let lent = std::sync::Arc::new(Lent(vec![0.5, 1.5, 2.5, 3.5]));
        let x = || array(&[2, 2], Values::F32(crate::data::Buffer::Shared(lent.clone())));
        let plain = PROGRAM.replace(" |> scale(2.0) |> standardize", "");
        let c = compile_resolved(module(&plain), &PathBuf::new(), None).unwrap();
        let rows = predicting(&c, x(), None).unwrap();
        assert!(rows.features.is_shared() && rows.features.as_ptr() == lent.0.as_ptr(), "no copy");
        let trained = training(x(), array(&[2], Values::I32(vec![0, 1]))).unwrap();
        assert!(trained.features.is_shared());
        // `scale` rewrites the rows: a copy of them, the caller's untouched.
        let c = compile_resolved(module(PROGRAM), &PathBuf::new(), None).unwrap();
        let rows = predicting(&c, x(), None).unwrap();
        assert!(!rows.features.is_shared());
        assert_eq!((rows.features, lent.0.clone()), (vec![1.0, 3.0, 5.0, 7.0].into(), vec![0.5, 1.5, 2.5, 3.5]));
    }
}
