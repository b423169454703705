//! The reference engine: OPA's Go evaluator as the C-ABI library `libopabridge.so` (from the
//! PyPI wheel `opa-golib-python-bindings`), loaded with `libloading`. Every call but `OpaNew`,
//! `OpaDestroy` and `OpaFreeString` returns a malloc'd JSON envelope `{"result": ..., "error":
//! {"code", "message"} | null}` that the caller frees with `OpaFreeString`.

use serde_json::Value;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OpaError {
    #[error("cannot load {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("OPA {code}: {message}")]
    Engine { code: String, message: String },
    #[error("OPA: {0}")]
    Protocol(String),
}

type New = unsafe extern "C" fn() -> u64;
type Destroy = unsafe extern "C" fn(u64);
type Free = unsafe extern "C" fn(*mut c_void);
type TwoStrings = unsafe extern "C" fn(u64, *const c_char, *const c_char) -> *mut c_char;
type EvalDocument = unsafe extern "C" fn(u64, *const c_char, *const c_char, c_int, c_int) -> *mut c_char;

/// The library's functions, resolved once.
pub struct OpaLibrary {
    _library: libloading::Library,
    new: New,
    destroy: Destroy,
    free: Free,
    add_policy: TwoStrings,
    add_data: TwoStrings,
    eval_document: EvalDocument,
}

impl OpaLibrary {
    pub fn load(path: &Path) -> Result<Self, OpaError> {
        let failed = |message: String| OpaError::Load {
            path: path.to_path_buf(),
            message,
        };
        // SAFETY: loading a shared library runs its initialisers; libopabridge.so is the Go
        // runtime's c-shared build, which has no initialiser that depends on the caller.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| failed(e.to_string()))?;
        // SAFETY: the symbol types are the library's exported C signatures (see the wheel's
        // `_native.py`), and the function pointers do not outlive `library`, kept alongside.
        unsafe {
            let new = *library.get::<New>(b"OpaNew\0").map_err(|e| failed(e.to_string()))?;
            let destroy = *library
                .get::<Destroy>(b"OpaDestroy\0")
                .map_err(|e| failed(e.to_string()))?;
            let free = *library
                .get::<Free>(b"OpaFreeString\0")
                .map_err(|e| failed(e.to_string()))?;
            let add_policy = *library
                .get::<TwoStrings>(b"OpaAddPolicy\0")
                .map_err(|e| failed(e.to_string()))?;
            let add_data = *library
                .get::<TwoStrings>(b"OpaAddData\0")
                .map_err(|e| failed(e.to_string()))?;
            let eval_document = *library
                .get::<EvalDocument>(b"OpaEvalDocument\0")
                .map_err(|e| failed(e.to_string()))?;
            Ok(OpaLibrary {
                _library: library,
                new,
                destroy,
                free,
                add_policy,
                add_data,
                eval_document,
            })
        }
    }

    /// Where the library is: `SOAR_OPA_LIB`, else `.opa/opa_bindings/libopabridge.so` under `root`
    /// (where `make opa-ref` unpacks the wheel).
    pub fn default_path(root: &Path) -> PathBuf {
        std::env::var_os("SOAR_OPA_LIB")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".opa/opa_bindings/libopabridge.so"))
    }

    /// Reads and frees an envelope; `Ok(result)` or the engine's error.
    fn envelope(&self, ptr: *mut c_char) -> Result<Value, OpaError> {
        if ptr.is_null() {
            return Err(OpaError::Protocol("native call returned NULL".into()));
        }
        // SAFETY: non-null pointers the library returns are NUL-terminated C strings it
        // allocated; they are read once and freed with its own `OpaFreeString`.
        let text = unsafe {
            let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
            (self.free)(ptr.cast());
            text
        };
        let mut envelope: Value =
            serde_json::from_str(&text).map_err(|e| OpaError::Protocol(format!("envelope is not JSON: {e}")))?;
        match envelope.get("error") {
            Some(Value::Null) | None => Ok(envelope.get_mut("result").map(Value::take).unwrap_or(Value::Null)),
            Some(error) => Err(OpaError::Engine {
                code: error.get("code").and_then(Value::as_str).unwrap_or("unknown").into(),
                message: error.get("message").and_then(Value::as_str).unwrap_or("").into(),
            }),
        }
    }
}

fn c(text: &str) -> Result<CString, OpaError> {
    CString::new(text).map_err(|_| OpaError::Protocol("a string holds a NUL byte".into()))
}

/// One OPA engine (policies and data), evaluated by document path.
pub struct OpaEngine<'lib> {
    lib: &'lib OpaLibrary,
    handle: u64,
}

impl<'lib> OpaEngine<'lib> {
    pub fn new(lib: &'lib OpaLibrary) -> Self {
        // SAFETY: OpaNew takes no arguments and returns a handle owned by this value.
        let handle = unsafe { (lib.new)() };
        OpaEngine { lib, handle }
    }

    pub fn add_policy(&mut self, name: &str, source: &str) -> Result<(), OpaError> {
        let (name, source) = (c(name)?, c(source)?);
        // SAFETY: valid handle and NUL-terminated strings that outlive the call.
        let ptr = unsafe { (self.lib.add_policy)(self.handle, name.as_ptr(), source.as_ptr()) };
        self.lib.envelope(ptr).map(drop)
    }

    /// Merges `data` (JSON) at the root of the data document.
    pub fn add_data(&mut self, data: &str) -> Result<(), OpaError> {
        let (path, data) = (c("")?, c(data)?);
        // SAFETY: as above.
        let ptr = unsafe { (self.lib.add_data)(self.handle, path.as_ptr(), data.as_ptr()) };
        self.lib.envelope(ptr).map(drop)
    }

    /// The engine's raw answer envelope for `data.<path>` and `input` (JSON text in, JSON text
    /// out: the work the benchmark times).
    pub fn eval_document_raw(&self, path: &CStr, input: &CStr) -> Result<String, OpaError> {
        // SAFETY: valid handle and NUL-terminated strings that outlive the call.
        let ptr = unsafe { (self.lib.eval_document)(self.handle, path.as_ptr(), input.as_ptr(), 0, 0) };
        if ptr.is_null() {
            return Err(OpaError::Protocol("native call returned NULL".into()));
        }
        // SAFETY: a NUL-terminated string the library allocated, freed with its own function.
        unsafe {
            let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
            (self.lib.free)(ptr.cast());
            Ok(text)
        }
    }

    /// The value of `data.<path>` for `input` (JSON text); `Ok(None)` when undefined.
    pub fn eval_document(&self, path: &str, input: &str) -> Result<Option<Value>, OpaError> {
        let (path, input) = (c(path)?, c(input)?);
        // SAFETY: as above; coverage and trace off.
        let ptr = unsafe { (self.lib.eval_document)(self.handle, path.as_ptr(), input.as_ptr(), 0, 0) };
        let mut result = self.lib.envelope(ptr)?;
        Ok(result.pointer_mut("/0/expressions/0/value").map(Value::take))
    }
}

impl Drop for OpaEngine<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from OpaNew and is destroyed once.
        unsafe { (self.lib.destroy)(self.handle) }
    }
}
