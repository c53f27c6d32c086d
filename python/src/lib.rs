//! The `gradc` Python module: `.grad` programs loaded or compiled from text, trained,
//! evaluated and run on NumPy arrays, their weights saved and loaded, their IR and gradient
//! maths printed. Every step is the gradc library's, as the command line runs it; this file
//! only converts arrays and errors. A diagnostic becomes a `gradc.GradcError` (a `ValueError`)
//! whose message is its rendered text.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gradc::data::array::{Array, Values};
use gradc::data::buffer::{Buffer, Elements};
use gradc::diag::{Diag, SourceMap};
use gradc::driver::{self, rows, score as scoring, Compiled, Front};
use gradc::files::Refusal;
use gradc::runtime::log::{summary, ProgressTo};
use gradc::runtime::score::Prediction;
use gradc::runtime::train::{total_steps, RunConfig, StopReason, Summary};
use gradc::runtime::{checkpoint, errors};
use gradc::sema::Module;
use gradc::snapshot::{stage_text, Stage};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    gradc,
    GradcError,
    PyValueError,
    "A gradc diagnostic: a compile error, an array of the wrong dtype or shape, an unreadable file; the message is the diagnostic as gradc prints it."
);

/// The code of the errors about arrays this module checks itself (dtypes), before gradc's own.
const ARRAY: &str = "gradc::python::array";

/// Threads for large matrix products, as the command line's `--threads` default.
const THREADS: usize = 2;

/// The Python exception for a diagnostic, rendered with the sources it points into.
fn raise(d: Diag, sources: &SourceMap) -> PyErr {
    GradcError::new_err(d.with_sources(sources).render_plain())
}

/// A program loaded from a `.grad` file or compiled from text, and its weights once trained.
#[pyclass(unsendable, module = "gradc")]
struct Model {
    /// The file's name as diagnostics and the header show it.
    name: String,
    /// The sources (for rendering diagnostics) and the directory data paths are relative to;
    /// the syntax tree has moved into `module`.
    front: Front,
    /// The program printed back as source (`ir("ast")`).
    ast: String,
    /// The resolved program, compiled anew for each rows `fit` trains on.
    module: Module,
    /// The program compiled for the last `fit`'s rows, or for its own data declaration.
    compiled: Option<Compiled>,
    /// Holds `weights.safetensors`, the checkpoint of the model's current weights, optimizer
    /// state and step, as `gradc run --save` writes it; removed with the model.
    dir: tempfile::TempDir,
    /// Whether the checkpoint exists (after `fit` or `load_weights`).
    trained: bool,
}

/// Loads the `.grad` file at `path`.
#[pyfunction]
fn load(path: PathBuf) -> PyResult<Model> {
    let front = driver::parse(&path).map_err(|(d, s)| raise(d, &s))?;
    Model::new(path.display().to_string(), front)
}

/// Compiles a program from its source text; its data paths are relative to the working
/// directory of this call.
#[pyfunction]
fn compile(source: String) -> PyResult<Model> {
    let name = "<source>";
    let mut sources = SourceMap::default();
    let user = sources.add(name, source);
    let dir = std::env::current_dir().map_err(|e| GradcError::new_err(format!("gradc: no working directory: {e}")))?;
    let front = driver::parse_source(sources, user, dir).map_err(|(d, s)| raise(d, &s))?;
    Model::new(name.into(), front)
}

impl Model {
    /// Resolves a parsed program.
    fn new(name: String, mut front: Front) -> PyResult<Model> {
        let ast = gradc::syntax::print::print(&front.ast);
        let module = driver::resolve(&mut front).map_err(|d| raise(d, &front.sources))?;
        let dir =
            tempfile::tempdir().map_err(|e| GradcError::new_err(format!("gradc: no temporary directory: {e}")))?;
        Ok(Model { name, front, ast, module, compiled: None, dir, trained: false })
    }

    /// The checkpoint of the current weights.
    fn weights_path(&self) -> PathBuf {
        self.dir.path().join("weights.safetensors")
    }

    /// The checkpoint of the current weights, or an error saying how to get some.
    fn weights(&self) -> PyResult<PathBuf> {
        match self.trained {
            true => Ok(self.weights_path()),
            false => Err(GradcError::new_err("the model has no weights yet: call fit() or load_weights() first")),
        }
    }

    /// The compiled program: that of the last `fit`, or the program on its own data
    /// (standardized with the current checkpoint's statistics, if it keeps some).
    fn compiled(&mut self) -> PyResult<&Compiled> {
        if self.compiled.is_none() {
            let init = self.trained.then(|| self.weights_path());
            let c = driver::compile_resolved(self.module.clone(), &self.front.dir, init.as_deref());
            self.compiled = Some(c.map_err(|d| self.raise(d))?);
        }
        // Filled just above.
        Ok(self.compiled.as_ref().expect("compiled"))
    }

    /// The Python exception for a diagnostic about this program.
    fn raise(&self, d: Diag) -> PyErr {
        raise(d, &self.front.sources)
    }

    /// The standardization statistics of the current checkpoint.
    fn scaling(&self, weights: &Path) -> PyResult<Option<gradc::data::transform::Scaling>> {
        checkpoint::load_scaling(weights).map_err(|d| self.raise(d))
    }
}

#[pymethods]
impl Model {
    /// Trains on features `x` (float32, [N, ...]) and labels `y` (int32/int64 classes or
    /// float32 targets) with the train block's settings, from the current weights if there are
    /// some; `epochs`, `steps` and `seed` override the train block's. Prints progress as
    /// `gradc run` does unless `verbose=False`. Returns the history: per epoch, the step, the
    /// learning rate, the loss over the training rows and each metric. Ctrl-C stops it after
    /// the current step and raises `KeyboardInterrupt`; the model keeps that step's weights (a
    /// second Ctrl-C ends the process at once, as in `gradc run`).
    #[pyo3(signature = (x, y, *, epochs=None, steps=None, seed=None, verbose=true, threads=THREADS))]
    // One argument per keyword of the Python method.
    #[allow(clippy::too_many_arguments)]
    fn fit<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        epochs: Option<usize>,
        steps: Option<usize>,
        seed: Option<u64>,
        verbose: bool,
        threads: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let rows = rows::training(features(x)?, labels(y)?).map_err(|d| self.raise(d))?;
        let init = self.trained.then(|| self.weights_path());
        let c = driver::compile_rows(self.module.clone(), &self.front.dir, rows, init.as_deref())
            .map_err(|d| self.raise(d))?;
        let mut err = PyStderr(py);
        if verbose {
            for w in &c.lowered.warnings {
                write!(err, "{}", w.clone().with_sources(&self.front.sources).render_plain())?;
            }
            writeln!(err, "{}", c.header(&self.name))?;
        }
        let mut cfg = RunConfig {
            epochs,
            steps,
            seed,
            threads: threads.clamp(1, 256),
            init,
            save: Some(self.weights_path()),
            // The whole training rows' loss at every logged point, for the history.
            evaluate_logged: true,
            ..RunConfig::default()
        };
        // One logged point per epoch: the history's.
        let program = driver::program(&c);
        cfg.log_every = Some(total_steps(&program, &RunConfig { epochs: Some(1), ..RunConfig::default() }).max(1));
        let progress = match (verbose, std::io::stderr().is_terminal()) {
            (false, _) => ProgressTo::Hidden,
            (true, true) => ProgressTo::Bar,
            (true, false) => ProgressTo::Lines(&mut err),
        };
        // Ctrl-C stops training after the current step, as in `gradc run`; Python's own handler
        // is back when the watch is dropped.
        let watch = gradc::runtime::interrupt::watch();
        let s = driver::train(&c, &cfg, progress);
        drop(watch);
        let s = s.map_err(|d| self.raise(d))?;
        if let Some(d) = s.stopped.diagnostic() {
            return Err(self.raise(d));
        }
        if verbose {
            write!(PyStdout(py), "{}", summary::table(&s, &c.lowered.params))?;
        }
        // The run saved the weights of the step it stopped at: the model keeps them.
        self.trained = true;
        self.compiled = Some(c);
        if let StopReason::Interrupted { .. } = s.stopped {
            let steps = s.resumed + s.steps;
            return Err(PyKeyboardInterrupt::new_err(format!(
                "fit stopped after step {steps}; the model keeps that step's weights"
            )));
        }
        history(py, &s)
    }

    /// The loss and every metric of the current weights on features `x` and labels `y`.
    #[pyo3(signature = (x, y, *, threads=THREADS))]
    fn evaluate<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (x, y, weights) = (features(x)?, labels(y)?, self.weights()?);
        let scaling = self.scaling(&weights)?;
        let c = self.compiled()?;
        let rows = rows::scoring(c, x, y, scaling.as_ref());
        let scores = rows.and_then(|r| scoring::score_rows(c, &weights, &r, threads.clamp(1, 256)));
        let scores = scores.map_err(|d| self.raise(d))?;
        let out = PyDict::new(py);
        out.set_item("loss", scores.loss)?;
        for (name, value) in scores.metrics {
            out.set_item(name, value)?;
        }
        Ok(out)
    }

    /// The model's outputs for features `x`: `output="outputs"` (logits, for a classifier),
    /// `"probabilities"` (each row's softmax) or `"classes"` (each row's largest output, int32).
    #[pyo3(signature = (x, *, output="outputs", threads=THREADS))]
    fn predict<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        output: &str,
        threads: usize,
    ) -> PyResult<Bound<'py, PyUntypedArray>> {
        let what = match output {
            "outputs" => Prediction::Outputs,
            "probabilities" => Prediction::Probabilities,
            "classes" => Prediction::Classes,
            other => {
                let want = "\"outputs\", \"probabilities\" or \"classes\"";
                return Err(PyValueError::new_err(format!("output={other:?}: expected {want}")));
            }
        };
        let (x, weights) = (features(x)?, self.weights()?);
        let scaling = self.scaling(&weights)?;
        let c = self.compiled()?;
        let rows = rows::predicting(c, x, scaling.as_ref());
        let out = rows.and_then(|r| scoring::predict_rows(c, &weights, &r, what, threads.clamp(1, 256)));
        let (shape, values) = out.map_err(|d| self.raise(d))?;
        Ok(match values {
            Values::I32(v) => v.into_pyarray(py).reshape(shape)?.into_any().cast_into()?,
            Values::F32(v) => v.into_vec().into_pyarray(py).reshape(shape)?.into_any().cast_into()?,
            Values::F64(_) | Values::I64(_) | Values::U8(_) => unreachable!("predictions are f32 or i32"),
        })
    }

    /// Writes the current weights, optimizer state and step to a safetensors file, as
    /// `gradc run --save` does (`gradc eval`, `predict` and `run --init` read it).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        let bytes = std::fs::read(self.weights()?).map_err(|e| GradcError::new_err(format!("gradc: {e}")))?;
        gradc::output::write_atomically(&path, &bytes).map_err(|e| self.raise(errors::checkpoint_unwritable(&path, e)))
    }

    /// Takes the weights (and optimizer state and step, if it keeps them) from a safetensors
    /// file `gradc run --save` or `save()` wrote, or one of parameters named as `ir()` prints.
    fn load_weights(&mut self, path: PathBuf) -> PyResult<()> {
        // Checked against the model before it replaces the current checkpoint.
        let c = match self.compiled.take() {
            Some(c) => c,
            None => driver::compile_resolved(self.module.clone(), &self.front.dir, Some(&path))
                .map_err(|d| self.raise(d))?,
        };
        let wanted = driver::eval_at(&c, c.batch).map(|g| gradc::runtime::score::weight_inputs(&g));
        let checked = wanted
            .and_then(|w| checkpoint::load_weights(&path, &w))
            .and_then(|_| std::fs::read(&path).map_err(|e| errors::checkpoint_unreadable(&path, Refusal::Io(e))));
        self.compiled = Some(c);
        let bytes = checked.map_err(|d| self.raise(d))?;
        let target = self.weights_path();
        gradc::output::write_atomically(&target, &bytes)
            .map_err(|e| self.raise(errors::checkpoint_unwritable(&target, e)))?;
        self.trained = true;
        Ok(())
    }

    /// The program at one stage of the pipeline, as `gradc ir --stage STAGE` prints it: `ast`,
    /// `forward`, `eval`, `backward` (simplified unless `raw=True`), `update`, `optimized`,
    /// `kernels` or `clif`.
    #[pyo3(signature = (stage="optimized", *, raw=false))]
    fn ir(&mut self, stage: &str, raw: bool) -> PyResult<String> {
        let Some(stage) = Stage::named(stage) else {
            let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
            return Err(PyValueError::new_err(format!("stage {stage:?}: expected one of {}", names.join(", "))));
        };
        if stage == Stage::Ast {
            return Ok(self.ast.clone());
        }
        self.compiled()?;
        let c = self.compiled.as_ref().expect("compiled just above");
        stage_text(&self.front, c, stage, raw).map_err(|d| self.raise(d))
    }

    /// Each parameter's gradient as maths, as `gradc grad` prints it (only `param`'s, if given;
    /// a LaTeX document if `latex=True`).
    #[pyo3(signature = (param=None, *, latex=false))]
    fn grad(&mut self, param: Option<String>, latex: bool) -> PyResult<String> {
        let opts = gradc::gradmath::Options { param, latex, values: false, init: None, save: None, threads: 1 };
        self.compiled()?;
        let c = self.compiled.as_ref().expect("compiled just above");
        gradc::gradmath::command(c, &opts).map_err(|d| self.raise(d))
    }

    fn __repr__(&self) -> String {
        format!("gradc.Model({:?}{})", self.name, if self.trained { ", trained" } else { "" })
    }
}

/// The history `fit` returns: a list per key of the logged points' values.
fn history<'py>(py: Python<'py>, s: &Summary) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("step", s.history.iter().map(|p| p.step).collect::<Vec<_>>())?;
    out.set_item("lr", s.history.iter().map(|p| p.lr).collect::<Vec<_>>())?;
    // Every point evaluates the same metrics (`evaluate_logged`), the first being `loss`.
    let names: Vec<String> =
        s.history.first().map(|p| p.metrics.iter().map(|m| m.0.clone()).collect()).unwrap_or_default();
    for name in names {
        let values: Vec<f64> =
            s.history.iter().map(|p| p.metrics.iter().find(|m| m.0 == name).map_or(f64::NAN, |m| m.1)).collect();
        out.set_item(name, values)?;
    }
    Ok(out)
}

/// Features from a NumPy float32 array, as an array of gradc's: a C-contiguous array's buffer
/// is read in place (a preprocessing step that rewrites the rows, `scale` or `standardize`,
/// copies them first); any other layout is gathered into C order.
fn features(x: &Bound<'_, PyAny>) -> PyResult<Array> {
    let a = ndarray(x, "x")?;
    let Ok(a) = a.cast::<PyArrayDyn<f32>>() else {
        return Err(dtype_error("x", a, "float32", "x.astype(numpy.float32)"));
    };
    let shape = a.shape().to_vec();
    let values = match a.is_c_contiguous() {
        true => Buffer::Shared(Arc::new(Lent::new(a))),
        false => elements(a)?.into(),
    };
    Ok(Array { shape, values: Values::F32(values) })
}

/// A C-contiguous float32 NumPy array's elements, read in place: gradc reads them while it
/// trains or scores and never writes them (as with `torch.from_numpy`, the caller must not
/// change the array meanwhile).
struct Lent {
    /// Keeps the array, and so its buffer, alive.
    _array: Py<PyArrayDyn<f32>>,
    /// Its first element.
    data: *const f32,
    /// Its number of elements.
    len: usize,
}

impl Lent {
    /// Lends the elements of `a`, which must be C-contiguous.
    fn new(a: &Bound<'_, PyArrayDyn<f32>>) -> Lent {
        debug_assert!(a.is_c_contiguous());
        Lent { _array: a.clone().unbind(), data: a.data().cast_const(), len: a.len() }
    }
}

// SAFETY: the buffer is only read, through `elements`, and the reference in `_array` keeps it
// from being freed (NumPy frees an array's data only when the array is deallocated); the
// pointer is valid from any thread.
unsafe impl Send for Lent {}
// SAFETY: as for Send: shared reads of memory nothing writes.
unsafe impl Sync for Lent {}

impl Elements<f32> for Lent {
    fn elements(&self) -> &[f32] {
        match self.len {
            // An empty array's data pointer may be null, which a slice may not be.
            0 => &[],
            // SAFETY: `data` points at `len` contiguous, initialised f32s that live as long as
            // `_array` (see the Send impl).
            len => unsafe { std::slice::from_raw_parts(self.data, len) },
        }
    }
}

/// Labels from a NumPy array: int32 or int64 class labels, or float32 regression targets.
fn labels(y: &Bound<'_, PyAny>) -> PyResult<Array> {
    let a = ndarray(y, "y")?;
    let shape = a.shape().to_vec();
    let values = if let Ok(v) = a.cast::<PyArrayDyn<i32>>() {
        Values::I32(elements(v)?)
    } else if let Ok(v) = a.cast::<PyArrayDyn<i64>>() {
        Values::I64(elements(v)?)
    } else if let Ok(v) = a.cast::<PyArrayDyn<f32>>() {
        Values::F32(elements(v)?.into())
    } else {
        let want = "int32 or int64 (class labels) or float32 (regression targets)";
        return Err(dtype_error("y", a, want, "y.astype(numpy.int32) or y.astype(numpy.float32)"));
    };
    Ok(Array { shape, values })
}

/// `value` as a NumPy array, or an error naming the argument.
fn ndarray<'a, 'py>(value: &'a Bound<'py, PyAny>, name: &str) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    value.cast::<PyUntypedArray>().map_err(|_| {
        let ty = value.get_type().name().map_or_else(|_| "?".into(), |n| n.to_string());
        let d = Diag::new(ARRAY, format!("`{name}` is a {ty}, not a NumPy array"))
            .help(format!("pass numpy.asarray({name}, dtype=...)"));
        raise(d, &SourceMap::default())
    })
}

/// The error for an array of a dtype gradc does not take.
fn dtype_error(name: &str, a: &Bound<'_, PyUntypedArray>, want: &str, fix: &str) -> PyErr {
    let dtype = a.dtype().to_string();
    let d = Diag::new(ARRAY, format!("`{name}` has dtype {dtype}, but gradc takes {want}"))
        .help(format!("convert it: {fix}"));
    raise(d, &SourceMap::default())
}

/// The elements of an array in C order: copied straight from a C-contiguous array's buffer,
/// else gathered element by element (`as_slice` also accepts a Fortran-order buffer, whose
/// order is not C's).
fn elements<T: numpy::Element + Copy>(a: &Bound<'_, PyArrayDyn<T>>) -> PyResult<Vec<T>> {
    let view = a.readonly();
    match view.is_c_contiguous() {
        true => Ok(view.as_slice()?.to_vec()),
        false => Ok(view.as_array().iter().copied().collect()),
    }
}

/// Python's `sys.stderr`, where `fit`'s progress goes (so a notebook shows it).
struct PyStderr<'py>(Python<'py>);

/// Python's `sys.stdout`, where `fit`'s summary goes.
struct PyStdout<'py>(Python<'py>);

impl Write for PyStderr<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_to(self.0, "stderr", buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        flush(self.0, "stderr")
    }
}

impl Write for PyStdout<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_to(self.0, "stdout", buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        flush(self.0, "stdout")
    }
}

/// Writes `buf` (UTF-8 text, as gradc writes) to Python's `sys.<stream>`.
fn write_to(py: Python<'_>, stream: &str, buf: &[u8]) -> std::io::Result<usize> {
    let text = String::from_utf8_lossy(buf);
    let written = py.import("sys").and_then(|sys| sys.getattr(stream)?.call_method1("write", (text,)));
    written.map(|_| buf.len()).map_err(std::io::Error::other)
}

/// Flushes Python's `sys.<stream>`.
fn flush(py: Python<'_>, stream: &str) -> std::io::Result<()> {
    let flushed = py.import("sys").and_then(|sys| sys.getattr(stream)?.call_method0("flush"));
    flushed.map(|_| ()).map_err(std::io::Error::other)
}

/// The `gradc` module.
#[pymodule]
#[pyo3(name = "gradc")]
fn gradc_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_class::<Model>()?;
    m.add("GradcError", m.py().get_type::<GradcError>())?;
    Ok(())
}
