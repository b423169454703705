//! Compiled engines per phase and the [`PolicySet`] behind soar-core's `Policies` port.

use crate::bundle::{Bundle, BundleError, PolicyTree};
use crate::testing::Coverage;
use regorus::utils::limits::ExecutionTimerConfig;
use serde_json::Value;
use soar_core::{OrgConfig, Phase, Policies, PolicyError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Per-evaluation wall-clock limit: a runaway policy must not hold an alert (or a Lambda) hostage.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_millis(250);

/// One phase's policy, compiled once. Decisions run on regorus's bytecode VM (the RVM, several
/// times faster than its tree-walking interpreter on soar's policies); the interpreter, kept
/// alongside, measures coverage and explains errors: a decision the VM fails is evaluated again
/// by the interpreter, whose messages name the file, line and column.
pub struct PhaseEngine {
    phase: Phase,
    revision: String,
    rule: String,
    time_limit: Duration,
    engine: regorus::Engine,
    bytecode: Option<Bytecode>,
    /// Where line coverage goes when it is being measured (`soar policy scenario --coverage`).
    coverage: Option<Arc<Mutex<Coverage>>>,
    /// Decisions the VM handed to the interpreter (an error or "undefined" to explain).
    fallbacks: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for PhaseEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhaseEngine")
            .field("phase", &self.phase)
            .field("revision", &self.revision)
            .finish()
    }
}

impl PhaseEngine {
    pub fn new(bundle: &Bundle, time_limit: Duration) -> Result<Self, PolicyError> {
        crate::limits::install();
        let phase = bundle.phase;
        let not_loaded = |message: String| PolicyError::NotLoaded { phase, message };
        let mut engine = regorus::Engine::new();
        for (path, source) in &bundle.modules {
            engine
                .add_policy(path.clone(), source.clone())
                .map_err(|e| not_loaded(e.to_string()))?;
        }
        engine
            .add_data(crate::input::from_json_value(&bundle.data))
            .map_err(|e| not_loaded(e.to_string()))?;
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: time_limit,
            check_interval: crate::limits::TIMER_CHECK_INTERVAL,
        });
        if let Some(problem) = repeated_default(&bundle.modules) {
            return Err(not_loaded(problem));
        }
        let rule = format!("data.soar.{phase}.decision");
        if !engine
            .get_packages()
            .map_err(|e| not_loaded(e.to_string()))?
            .iter()
            .any(|p| p == &format!("data.soar.{phase}"))
        {
            return Err(not_loaded(format!("no module declares `package soar.{phase}`")));
        }
        let bytecode = match conflict_risk(&bundle.modules) {
            Some(why) => {
                tracing::info!(%phase, reason = %why, "the interpreter decides this phase (it detects conflicting rule values)");
                None
            }
            None => Bytecode::compile(&mut engine, &rule, time_limit)
                .map_err(|e| tracing::warn!(%phase, error = %e, "no bytecode for this bundle: the interpreter decides"))
                .ok(),
        };
        // The template must be prepared (rule indexes, hoisted loops) before it is cloned per
        // evaluation, or every clone pays for that again. Compiling the bytecode prepared it;
        // without bytecode, one evaluation on an empty input does.
        if bytecode.is_none() {
            engine.set_input(regorus::Value::new_object());
            if let Err(e) = engine.eval_rule(rule.clone()) {
                tracing::debug!(%phase, error = %e, "warm-up evaluation on an empty input failed");
            }
        }
        Ok(PhaseEngine {
            phase,
            revision: bundle.revision.clone(),
            rule,
            time_limit,
            engine,
            bytecode,
            coverage: None,
            fallbacks: Default::default(),
        })
    }

    /// Measures line coverage of every later decision into `sink` (slower: for test runs only).
    pub(crate) fn measure_coverage(mut self, sink: Arc<Mutex<Coverage>>) -> Self {
        self.coverage = Some(sink);
        self
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether decisions run on the bytecode VM (else on the interpreter).
    pub fn uses_bytecode(&self) -> bool {
        self.bytecode.is_some()
    }

    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// How many decisions the VM handed to the interpreter so far (errors and undefined
    /// decisions, which the interpreter explains; a well-written bundle has none on real input).
    pub fn interpreter_fallbacks(&self) -> u64 {
        self.fallbacks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The raw decision for `input`. Undefined, errors and timeouts are all [`PolicyError`]s.
    pub fn decide(&self, input: &Value) -> Result<Value, PolicyError> {
        let result = self.evaluate(crate::input::from_json_value(input))?;
        serde_json::to_value(&result).map_err(|e| self.failed(format!("decision is not JSON: {e}")))
    }

    /// The raw decision for `input` given as JSON text (the engine builds its values straight
    /// from the text).
    pub fn decide_text(&self, input: &str) -> Result<Value, PolicyError> {
        let result = self.evaluate_text(input)?;
        serde_json::to_value(&result).map_err(|e| self.failed(format!("decision is not JSON: {e}")))
    }

    /// JSON text in, JSON text out: for callers that hold the input as text (and the benchmark,
    /// which compares engines on exactly this work).
    pub fn decide_json(&self, input: &str) -> Result<String, PolicyError> {
        let result = self.evaluate_text(input)?;
        // Compact, as it goes on the wire (the engine's own `to_json_str` pretty-prints).
        serde_json::to_string(&result).map_err(|e| self.failed(format!("decision is not JSON: {e}")))
    }

    /// Another rule of this bundle than the phase decision (`data.soar.approvals.decision`),
    /// on the interpreter: asked rarely (a person's answer), so no bytecode is kept for it.
    /// Undefined is an error, as for a decision.
    pub fn query(&self, rule: &str, input: &Value) -> Result<Value, PolicyError> {
        let phase = self.phase;
        let failed = |message: String| PolicyError::Evaluation { phase, message };
        let mut engine = self.engine.clone();
        engine.set_input(crate::input::from_json_value(input));
        let result = engine
            .eval_rule(rule.to_string())
            .map_err(|e| failed(format!("{rule}: {e:#}")))?;
        if result == regorus::Value::Undefined {
            return Err(failed(format!("{rule} is undefined for this input")));
        }
        serde_json::to_value(&result).map_err(|e| failed(format!("{rule} is not JSON: {e}")))
    }

    fn evaluate_text(&self, input: &str) -> Result<regorus::Value, PolicyError> {
        let input = crate::input::from_json_str(input).map_err(|e| self.failed(format!("input: {e}")))?;
        self.evaluate(input)
    }

    fn failed(&self, message: String) -> PolicyError {
        PolicyError::Evaluation {
            phase: self.phase,
            message,
        }
    }

    fn evaluate(&self, input: regorus::Value) -> Result<regorus::Value, PolicyError> {
        let phase = self.phase;
        let mut from_vm = None;
        if self.coverage.is_none()
            && let Some(bytecode) = &self.bytecode
        {
            match bytecode.run(&self.rule, input.clone()) {
                // The VM reads a builtin's error (a type error, bad JSON) as "undefined", as OPA
                // does; the interpreter tells which, with the file, line and column.
                Ok(regorus::Value::Undefined) => {}
                // The VM also drops a rule body that fails (a reason left out of a set, a guard
                // rule gone) and picks one of two conflicting values: a decision that can lead
                // to an action is confirmed on the interpreter, where either is an error, so no
                // policy error can make soar act.
                Ok(result) if self.acts_on(&result) => from_vm = Some(result),
                Ok(result) => return Ok(result),
                // A bound is final: evaluating again on the interpreter would double the time.
                Err(VmFailure::Limit(message)) => {
                    return Err(PolicyError::Evaluation {
                        phase,
                        message: format!(
                            "{message} (the policy was stopped; limits: {:?} per decision, {} MiB)",
                            self.time_limit,
                            crate::limits::EVALUATION_MEMORY_BUDGET.get() >> 20
                        ),
                    });
                }
                // The interpreter decides again and names the file, line and column of the error.
                Err(VmFailure::Other) => {}
            }
            if from_vm.is_none() {
                self.fallbacks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let failed = |message: String| PolicyError::Evaluation { phase, message };
        let mut engine = self.engine.clone();
        engine.set_input(input);
        if self.coverage.is_some() {
            engine.set_enable_coverage(true);
        }
        let result = engine.eval_rule(self.rule.clone());
        if let Some(sink) = &self.coverage
            && let Ok(report) = engine.get_coverage_report()
        {
            sink.lock().unwrap_or_else(|e| e.into_inner()).add(report);
        }
        let result = result.map_err(|e| failed(format!("{e:#}")))?;
        if result == regorus::Value::Undefined {
            return Err(PolicyError::Undefined { phase });
        }
        if let Some(vm_result) = from_vm
            && vm_result != result
        {
            return Err(failed(format!(
                "the bytecode VM decided {vm_result} and the interpreter {result}: a rule the decision uses fails or conflicts on this input"
            )));
        }
        Ok(result)
    }

    /// Whether a decision can lead on to an action, so that a rule the VM dropped must not have
    /// shaped it: an accepted alert, every enrich round (its lookups feed the verdict), an
    /// `incident` or `undetermined` verdict, any remediate action other than `notify`. Only
    /// decisions that stop an alert (suppressed, `false_positive`, nothing or only `notify` to
    /// do) are taken from the VM alone.
    fn acts_on(&self, decision: &regorus::Value) -> bool {
        match self.phase {
            Phase::Ingest => decision["accept"] != regorus::Value::from(false),
            // Every round: a dropped rule can hide lookups as well as add them, and the alert
            // goes on to a verdict either way.
            Phase::Enrich => true,
            Phase::Evaluate => decision["verdict"] != regorus::Value::from("false_positive"),
            Phase::Remediate => decision["actions"]
                .as_array()
                .is_ok_and(|actions| actions.iter().any(|a| a["type"] != regorus::Value::from("notify"))),
        }
    }
}

/// Why a bundle may produce conflicting values for one rule, which the interpreter reports as
/// an error (and the bytecode VM does not check): a complete rule or function with a value
/// defined more than once, or a partial object rule (two keys may collide). Rule heads are the
/// statements at the top level of a module (outside braces, brackets, parentheses, strings and
/// comments, at any indentation); `else` branches and `default` rules are ordered, never in
/// conflict, and definitions without a value (`allow if ...`) all produce `true`. When in doubt
/// this says "risk": the interpreter is slower, never wrong.
fn conflict_risk(modules: &[(String, String)]) -> Option<String> {
    let mut valued: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for (path, package, heads) in module_statements(modules) {
        for line in &heads {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() || matches!(name.as_str(), "package" | "import" | "default" | "else") {
                continue;
            }
            let rest = &line[name.len()..];
            let head = rest.split(" if").next().unwrap_or(rest);
            if rest.starts_with('[') && (head.contains(":=") || head.contains(" = ")) {
                return Some(format!("{path}: `{name}` is a partial object rule"));
            }
            if head.contains(":=") || head.trim_start().starts_with('=') || head.contains(") =") {
                *valued.entry((package.clone(), name)).or_default() += 1;
            }
        }
    }
    valued
        .into_iter()
        .find(|(_, n)| *n > 1)
        .map(|((package, name), n)| format!("`{package}.{name}` has {n} valued definitions"))
}

/// A rule with two `default` values, which OPA refuses to compile (regorus takes the first):
/// which one holds would be an accident of file order.
fn repeated_default(modules: &[(String, String)]) -> Option<String> {
    let mut seen: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for (_, package, heads) in module_statements(modules) {
        for line in &heads {
            let Some(rest) = line.strip_prefix("default") else {
                continue;
            };
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                *seen.entry((package.clone(), name)).or_default() += 1;
            }
        }
    }
    seen.into_iter()
        .find(|(_, n)| *n > 1)
        .map(|((package, name), n)| format!("`{package}.{name}` has {n} default rules; a rule may have one"))
}

/// Each policy module (tests left out): its path, its package and its top-level statements.
fn module_statements(modules: &[(String, String)]) -> Vec<(&str, String, Vec<String>)> {
    modules
        .iter()
        .filter(|(path, _)| !crate::bundle::is_test_file(path))
        .map(|(path, source)| {
            let heads = top_level_lines(source);
            let package = heads
                .iter()
                .find_map(|h| h.strip_prefix("package"))
                .and_then(|p| p.split_whitespace().next())
                .unwrap_or_default()
                .to_string();
            (path.as_str(), package, heads)
        })
        .collect()
}

/// The lines of `source` that start at nesting depth 0 (outside `{}`, `[]`, `()`, strings,
/// raw strings and comments), trimmed and without a trailing comment: each begins a statement.
fn top_level_lines(source: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut depth = 0i32;
    let mut in_raw = false;
    for line in source.lines() {
        let starts_at_top = depth <= 0 && !in_raw;
        let mut code = String::new();
        let mut chars = line.chars().peekable();
        let mut in_string = false;
        while let Some(c) = chars.next() {
            match c {
                _ if in_raw => in_raw = c != '`',
                '\\' if in_string => {
                    chars.next();
                }
                '"' => in_string = !in_string,
                _ if in_string => {}
                '`' => in_raw = true,
                '#' => break,
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                _ => {}
            }
            code.push(c);
        }
        let code = code.trim();
        if starts_at_top && !code.is_empty() {
            lines.push(code.to_string());
        }
    }
    lines
}

/// A phase policy as RVM bytecode, and idle VMs ready to run it (a VM is built once and reused:
/// loading the program and data costs more than a decision).
struct Bytecode {
    compiled: regorus::CompiledPolicy,
    program: Arc<regorus::rvm::program::Program>,
    data: regorus::Value,
    time_limit: Duration,
    idle: Mutex<Vec<regorus::rvm::vm::RegoVM>>,
}

impl Bytecode {
    /// Compiles `rule` from the template `engine` (which this prepares for evaluation as well).
    fn compile(engine: &mut regorus::Engine, rule: &str, time_limit: Duration) -> anyhow::Result<Self> {
        let compiled = engine.compile_with_entrypoint(&Arc::<str>::from(rule))?;
        let program = regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[rule])?;
        let data = engine.get_data();
        let bytecode = Bytecode {
            compiled,
            program,
            data,
            time_limit,
            idle: Mutex::new(Vec::new()),
        };
        // Build and warm one VM now, at cold start, rather than on the first alert.
        let mut vm = bytecode.vm()?;
        vm.set_input(regorus::Value::new_object());
        let _ = vm.execute_entry_point_by_name(rule);
        bytecode.idle.lock().unwrap_or_else(|e| e.into_inner()).push(vm);
        Ok(bytecode)
    }

    fn vm(&self) -> anyhow::Result<regorus::rvm::vm::RegoVM> {
        if let Some(vm) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(vm);
        }
        let mut vm = regorus::rvm::vm::RegoVM::new_with_policy(self.compiled.clone());
        vm.load_program(self.program.clone());
        vm.set_data(self.data.clone())?;
        vm.set_execution_timer_config(Some(ExecutionTimerConfig {
            limit: self.time_limit,
            check_interval: crate::limits::TIMER_CHECK_INTERVAL,
        }));
        vm.set_memory_budget_config(Some(regorus::MemoryBudgetConfig {
            limit: crate::limits::EVALUATION_MEMORY_BUDGET,
        }));
        // A builtin's error is an error, as on the interpreter (regorus's default there), not an
        // "undefined" that silently drops one reason from a set and lets the decision act: the
        // failed decision then goes to the interpreter, which names the file and line, and the
        // alert is escalated.
        vm.set_strict_builtin_errors(true);
        Ok(vm)
    }

    /// The decision, or why the VM could not make it; a VM that failed is not reused.
    fn run(&self, rule: &str, input: regorus::Value) -> Result<regorus::Value, VmFailure> {
        let mut vm = self.vm().map_err(|_| VmFailure::Other)?;
        vm.set_input(input);
        match vm.execute_entry_point_by_name(rule) {
            Ok(result) => {
                self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(vm);
                Ok(result)
            }
            Err(e) if crate::limits::is_vm_limit(&e) => Err(VmFailure::Limit(e.to_string())),
            Err(_) => Err(VmFailure::Other),
        }
    }
}

/// Why the VM gave no decision.
enum VmFailure {
    /// A time or memory bound stopped it.
    Limit(String),
    /// Anything else: the interpreter evaluates again to explain it.
    Other,
}

/// One value per phase, a field each: no phase's entry can be missing or another phase's.
struct PerPhase<T> {
    ingest: T,
    enrich: T,
    evaluate: T,
    remediate: T,
}

impl<T> PerPhase<T> {
    fn from_fn(mut make: impl FnMut(Phase) -> T) -> Self {
        PerPhase {
            ingest: make(Phase::Ingest),
            enrich: make(Phase::Enrich),
            evaluate: make(Phase::Evaluate),
            remediate: make(Phase::Remediate),
        }
    }

    fn get(&self, phase: Phase) -> &T {
        match phase {
            Phase::Ingest => &self.ingest,
            Phase::Enrich => &self.enrich,
            Phase::Evaluate => &self.evaluate,
            Phase::Remediate => &self.remediate,
        }
    }

    fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerPhase<U> {
        PerPhase {
            ingest: f(self.ingest),
            enrich: f(self.enrich),
            evaluate: f(self.evaluate),
            remediate: f(self.remediate),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (Phase, &T)> {
        Phase::ALL.into_iter().map(|phase| (phase, self.get(phase)))
    }
}

/// A phase's bundle as this process has it: its engine (or why there is none) and revision.
struct Loaded {
    engine: Result<PhaseEngine, PolicyError>,
    revision: String,
}

impl Loaded {
    fn failed(error: PolicyError) -> Self {
        Loaded {
            engine: Err(error),
            revision: "unloaded".into(),
        }
    }
}

/// The four phase engines. A phase whose bundle does not load keeps its error, and every
/// decision asked of it fails with that error (so the alert ends `undetermined`, never acted on).
pub struct PolicySet {
    engines: PerPhase<Loaded>,
    /// The phases compiled (all four but in a function, which compiles its own).
    compiled: Vec<Phase>,
    org: OrgConfig,
    /// `data.soar.config` as written (sections the Rust side reads beyond `org`, such as `intel`).
    config: Value,
    config_error: Option<String>,
    coverage: Option<Arc<Mutex<Coverage>>>,
}

impl PolicySet {
    /// The bundles built into this binary.
    pub fn embedded(time_limit: Duration) -> Self {
        Self::from_tree(&PolicyTree::embedded(), time_limit)
    }

    /// A policy folder on disk; a folder that cannot be read gives a set whose every phase fails.
    pub fn from_dir(dir: &std::path::Path, time_limit: Duration) -> Self {
        match PolicyTree::from_dir(dir) {
            Ok(tree) => Self::from_tree(&tree, time_limit),
            Err(e) => Self::broken(&e),
        }
    }

    /// The embedded bundle of each of `phases` only: a function compiles the phase it runs (the
    /// contract probe over all four runs when the function is built, see soar-lambda's build
    /// script). A decision asked of another phase fails as not loaded.
    pub fn embedded_phases(phases: &[Phase], time_limit: Duration) -> Self {
        Self::from_tree_phases(&PolicyTree::embedded(), phases, time_limit)
    }

    pub fn from_tree(tree: &PolicyTree, time_limit: Duration) -> Self {
        Self::from_tree_phases(tree, &Phase::ALL, time_limit)
    }

    fn from_tree_phases(tree: &PolicyTree, phases: &[Phase], time_limit: Duration) -> Self {
        let mut org = None;
        let mut config = Value::Null;
        let mut config_error = None;
        let engines = PerPhase::from_fn(|phase| {
            if !phases.contains(&phase) {
                return Loaded::failed(PolicyError::NotLoaded {
                    phase,
                    message: "not compiled in this process".into(),
                });
            }
            let bundle = tree.bundle(phase, false);
            let revision = bundle
                .as_ref()
                .map(|b| b.revision.clone())
                .unwrap_or_else(|_| "unloaded".into());
            let engine = bundle
                .map_err(|e| PolicyError::NotLoaded {
                    phase,
                    message: e.to_string(),
                })
                .and_then(|b| {
                    // No config is fine (the built-in private ranges still apply); a malformed one is not.
                    if org.is_none() && !b.config().is_null() {
                        config = b.config();
                        match OrgConfig::from_value(&b.config()) {
                            Ok(c) => org = Some(c),
                            Err(e) => config_error = Some(e.to_string()),
                        }
                        // Who may answer waiting actions: a malformed entry stops start-up too.
                        if let Err(e) = soar_core::approval::check_approvers(&b.config()) {
                            config_error.get_or_insert(e.to_string());
                        }
                    }
                    PhaseEngine::new(&b, time_limit)
                });
            match &engine {
                Ok(e) => tracing::info!(%phase, revision = e.revision(), "policy bundle loaded"),
                Err(e) => tracing::error!(%phase, error = %e, "policy bundle failed to load"),
            }
            Loaded { engine, revision }
        });
        PolicySet {
            engines,
            compiled: phases.to_vec(),
            org: org.unwrap_or_default(),
            config,
            config_error,
            coverage: None,
        }
    }

    /// Like [`PolicySet::from_tree`], measuring which policy lines the decisions reach.
    pub fn with_coverage(tree: &PolicyTree, time_limit: Duration) -> Self {
        let mut set = Self::from_tree(tree, time_limit);
        let sink = Arc::new(Mutex::new(Coverage::default()));
        set.engines = set.engines.map(|loaded| Loaded {
            engine: loaded.engine.map(|e| e.measure_coverage(sink.clone())),
            ..loaded
        });
        set.coverage = Some(sink);
        set
    }

    /// The lines reached so far, when built [`PolicySet::with_coverage`].
    pub fn coverage(&self) -> Option<Coverage> {
        self.coverage
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn broken(error: &BundleError) -> Self {
        let engines = PerPhase::from_fn(|phase| {
            Loaded::failed(PolicyError::NotLoaded {
                phase,
                message: error.to_string(),
            })
        });
        PolicySet {
            engines,
            compiled: Phase::ALL.to_vec(),
            org: OrgConfig::default(),
            config: Value::Null,
            config_error: None,
            coverage: None,
        }
    }

    /// `data.soar.config` as the Rust guard rails read it (egress, recursion limits).
    pub fn org_config(&self) -> &OrgConfig {
        &self.org
    }

    /// `data.soar.config` as the policy data has it (`null` when there is none).
    pub fn config_value(&self) -> Value {
        self.config.clone()
    }

    /// `Err` naming the malformed entry of `data.soar.config` (which the Rust guard rails
    /// enforce), the message a command stops on: nothing may run on a configuration that does
    /// not say what it seems to.
    pub fn refuse_bad_config(&self) -> Result<(), String> {
        match &self.config_error {
            Some(problem) => Err(format!("{problem} (fix the policy data before running)")),
            None => Ok(()),
        }
    }

    /// Load problems, one line each; empty when every phase loaded.
    pub fn problems(&self) -> Vec<String> {
        self.engines
            .iter()
            .filter(|(phase, _)| self.compiled.contains(phase))
            .filter_map(|(_, loaded)| loaded.engine.as_ref().err().map(ToString::to_string))
            .chain(self.config_error.clone())
            .collect()
    }

    /// Whether this process compiled all four phases (a function compiles only its own).
    pub fn compiles_every_phase(&self) -> bool {
        Phase::ALL.iter().all(|phase| self.compiled.contains(phase))
    }

    pub fn engine(&self, phase: Phase) -> Result<&PhaseEngine, &PolicyError> {
        self.engines.get(phase).engine.as_ref()
    }
}

impl Policies for PolicySet {
    fn revision(&self, phase: Phase) -> String {
        self.engines.get(phase).revision.clone()
    }

    fn decide(&self, phase: Phase, input: &Value) -> Result<Value, PolicyError> {
        self.engine(phase).map_err(Clone::clone)?.decide(input)
    }

    fn decide_text(&self, phase: Phase, input: &str) -> Result<Value, PolicyError> {
        self.engine(phase).map_err(Clone::clone)?.decide_text(input)
    }

    fn decide_approver(&self, input: &Value) -> Result<Value, PolicyError> {
        self.engine(Phase::Remediate)
            .map_err(Clone::clone)?
            .query(APPROVER_RULE, input)
    }
}

/// The approver rule, shipped in the remediate bundle (policies/remediate/approvals.rego).
pub(crate) const APPROVER_RULE: &str = "data.soar.approvals.decision";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, PolicyTree) {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        let tree = PolicyTree::from_dir(dir.path()).unwrap();
        (dir, tree)
    }

    #[test]
    fn a_function_compiles_only_its_own_phase() {
        let set = Arc::new(PolicySet::embedded_phases(&[Phase::Evaluate], DEFAULT_TIME_LIMIT));
        assert!(set.engine(Phase::Evaluate).is_ok());
        for other in [Phase::Ingest, Phase::Enrich, Phase::Remediate] {
            let err = set.engine(other).expect_err("not compiled").to_string();
            assert!(err.contains("not compiled in this process"), "{err}");
        }
        // Nothing to report about phases it does not run.
        assert_eq!(set.problems(), Vec::<String>::new());
        assert!(!set.compiles_every_phase());
        assert_eq!(
            set.org_config().enrich.max_depth,
            PolicySet::embedded(DEFAULT_TIME_LIMIT).org_config().enrich.max_depth
        );
        assert!(set.revision(Phase::Evaluate).len() > 8);

        let (_d, t) = tree(&[("ingest/i.rego", "package soar.ingest\ndecision := {\n")]);
        let broken = Arc::new(PolicySet::from_tree_phases(&t, &[Phase::Ingest], DEFAULT_TIME_LIMIT));
        assert_eq!(broken.problems().len(), 1, "its own bundle failing to load is reported");
    }

    #[test]
    fn decides_and_reports_undefined() {
        let (_d, t) = tree(&[(
            "ingest/i.rego",
            "package soar.ingest\ndecision := {\"accept\": true} if input.x == 1\n",
        )]);
        let engine = PhaseEngine::new(&t.bundle(Phase::Ingest, false).unwrap(), DEFAULT_TIME_LIMIT).unwrap();
        assert_eq!(engine.decide(&json!({"x": 1})).unwrap(), json!({"accept": true}));
        assert_eq!(
            engine.decide(&json!({"x": 2})),
            Err(PolicyError::Undefined { phase: Phase::Ingest })
        );
    }

    #[test]
    fn syntax_errors_and_missing_packages_fail_to_load() {
        let (_d, t) = tree(&[("ingest/i.rego", "package soar.ingest\ndecision := {\n")]);
        assert!(matches!(
            PhaseEngine::new(&t.bundle(Phase::Ingest, false).unwrap(), DEFAULT_TIME_LIMIT),
            Err(PolicyError::NotLoaded { .. })
        ));
        let (_d, t) = tree(&[("ingest/i.rego", "package somewhere.else\nx := 1\n")]);
        let err = PhaseEngine::new(&t.bundle(Phase::Ingest, false).unwrap(), DEFAULT_TIME_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("package soar.ingest"), "{err}");
    }

    #[test]
    fn runtime_errors_are_policy_errors() {
        // Two different values for one complete rule is a Rego conflict error at evaluation time.
        let (_d, t) = tree(&[(
            "evaluate/e.rego",
            "package soar.evaluate\ndecision := 1 if input.a\ndecision := 2 if input.b\n",
        )]);
        let engine = PhaseEngine::new(&t.bundle(Phase::Evaluate, false).unwrap(), DEFAULT_TIME_LIMIT).unwrap();
        assert!(matches!(
            engine.decide(&json!({"a": true, "b": true})),
            Err(PolicyError::Evaluation { .. })
        ));
    }

    #[test]
    fn two_defaults_for_one_rule_do_not_load() {
        let (_d, t) = tree(&[(
            "ingest/i.rego",
            "package soar.ingest\ndefault ok := true\ndefault ok := false\ndecision := {\"accept\": ok}\n",
        )]);
        let err = PhaseEngine::new(&t.bundle(Phase::Ingest, false).unwrap(), DEFAULT_TIME_LIMIT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`soar.ingest.ok` has 2 default rules"), "{err}");
    }

    #[test]
    fn bundles_that_may_conflict_are_decided_by_the_interpreter() {
        let risky = [
            "package soar.ingest\nd := 1 if input.a\nd := 2 if input.b\n",
            "package soar.ingest\nf(x) := 1 if x > 0\nf(x) := 2 if x > 1\n",
            "package soar.ingest\nm[k] := v if { some k, v in input }\n",
            // Indented, or in a package line with a comment: still the same rule twice.
            "package soar.ingest\n  d := 1 if input.a\n  d := 2 if input.b\n",
            "package soar.ingest # the ingest phase\nd := 1 if input.a\nd := 2 if input.b\n",
        ];
        for source in risky {
            let (_d, t) = tree(&[("ingest/i.rego", &format!("{source}decision := {{\"accept\": true}}\n"))]);
            let engine = PhaseEngine::new(&t.bundle(Phase::Ingest, false).unwrap(), DEFAULT_TIME_LIMIT).unwrap();
            assert!(!engine.uses_bytecode(), "{source}");
        }
        let (_d, t) = tree(&[(
            "ingest/i.rego",
            "package soar.ingest\ndefault d := 0\nd := 1 if {\n\tinput.a\n} else := 2\nok if input.a\nok if input.b\ndecision := {\"accept\": ok}\n",
        )]);
        let engine = PhaseEngine::new(&t.bundle(Phase::Ingest, false).unwrap(), DEFAULT_TIME_LIMIT).unwrap();
        assert!(engine.uses_bytecode());
        assert_eq!(engine.decide(&json!({"a": true})).unwrap(), json!({"accept": true}));
        assert_eq!(
            engine.decide(&json!({})),
            Err(PolicyError::Undefined { phase: Phase::Ingest })
        );
    }

    /// A slow rule, one that loops (time) and one that materialises a hundred million numbers in
    /// one builtin call (memory), is stopped within twice the limit on the bytecode VM and on
    /// the interpreter alike, and never evaluated twice.
    #[test]
    fn runaway_rules_are_stopped_within_twice_the_limit_on_both_engines() {
        let limit = Duration::from_millis(200);
        let slow_rules = [
            "slow := count([x | some a in numbers.range(1, 4000); some b in numbers.range(1, 4000); x := a * b])\n",
            "slow := count([x | some x in numbers.range(0, 100000000); x % 7 == 3])\n",
        ];
        // A rule with two valued definitions sends the bundle to the interpreter.
        for (forces_interpreter, on_bytecode) in [("", true), ("d := 1 if input.a\nd := 2 if input.b\n", false)] {
            for slow in slow_rules {
                let source = format!("package soar.evaluate\n{slow}{forces_interpreter}decision := slow\n");
                let (_d, t) = tree(&[("evaluate/e.rego", &source)]);
                let engine = PhaseEngine::new(&t.bundle(Phase::Evaluate, false).unwrap(), limit).unwrap();
                assert_eq!(engine.uses_bytecode(), on_bytecode);
                let started = std::time::Instant::now();
                let err = engine.decide(&json!({})).unwrap_err().to_string();
                let took = started.elapsed();
                assert!(err.contains("limit"), "{err}");
                assert!(
                    took <= 2 * limit,
                    "{slow} on bytecode={on_bytecode}: stopped after {took:?}"
                );
            }
        }
    }

    /// A builtin that fails in a rule an acting decision uses is an error, as on the
    /// interpreter, not a rule silently dropped (the VM's reading) while the decision acts.
    #[test]
    fn a_failing_rule_never_lets_a_decision_act() {
        let source = "package soar.remediate\nprotected if count(input.tags) > 0\nactions contains {\"type\": \"notify\"}\nactions contains {\"type\": \"ec2.isolate\"} if not protected\ndecision := {\"actions\": [a | some a in actions]}\n";
        let (_d, t) = tree(&[("remediate/r.rego", source)]);
        let engine = PhaseEngine::new(&t.bundle(Phase::Remediate, false).unwrap(), DEFAULT_TIME_LIMIT).unwrap();
        assert!(engine.uses_bytecode());
        // `count(5)` fails: on the VM `protected` is just undefined, and isolation would follow.
        let err = engine.decide(&json!({"tags": 5})).unwrap_err().to_string();
        assert!(err.contains("`count` requires") && err.contains("r.rego:2"), "{err}");
        let protected = engine.decide(&json!({"tags": ["soar:protected"]})).unwrap();
        assert_eq!(protected, json!({"actions": [{"type": "notify"}]}));
        let acting = engine.decide(&json!({"tags": []})).unwrap();
        assert_eq!(acting["actions"].as_array().unwrap().len(), 2);
        assert_eq!(engine.interpreter_fallbacks(), 0, "confirmations are not fallbacks");
    }

    /// An enrich round is always confirmed: a rule that fails there (even one only for the
    /// audit list) is an error, not an empty round after which the alert goes on to act.
    #[test]
    fn a_failing_enrich_rule_is_an_error() {
        let source = "package soar.enrich\nwithheld contains x if { x := count(input.n) }\ndecision := {\"lookups\": [], \"withheld\": [w | some w in withheld]}\n";
        let (_d, t) = tree(&[("enrich/e.rego", source)]);
        let engine = PhaseEngine::new(&t.bundle(Phase::Enrich, false).unwrap(), DEFAULT_TIME_LIMIT).unwrap();
        assert!(engine.uses_bytecode());
        let err = engine.decide(&json!({"n": 5})).unwrap_err().to_string();
        assert!(err.contains("`count` requires"), "{err}");
    }

    /// A runtime error names its file and line whichever engine decides (the VM hands a failed
    /// decision to the interpreter, whose errors carry the location).
    #[test]
    fn runtime_errors_name_file_and_line_on_both_engines() {
        for forces_interpreter in ["", "d := 1 if input.a\nd := 2 if input.b\n"] {
            let source =
                format!("package soar.evaluate\n{forces_interpreter}decision := {{\"n\": count(input.zero)}}\n");
            let (_d, t) = tree(&[("evaluate/e.rego", &source)]);
            let engine = PhaseEngine::new(&t.bundle(Phase::Evaluate, false).unwrap(), DEFAULT_TIME_LIMIT).unwrap();
            let err = engine.decide(&json!({"zero": 0})).unwrap_err().to_string();
            let line = if forces_interpreter.is_empty() { 2 } else { 4 };
            assert!(err.contains("`count` requires"), "{err}");
            assert!(err.contains(&format!("e.rego:{line}")), "{err}");
        }
    }

    #[test]
    fn runaway_policies_hit_the_time_limit() {
        let (_d, t) = tree(&[(
            "evaluate/e.rego",
            "package soar.evaluate\ndecision := count([x | some a in numbers.range(1, 3000); some b in numbers.range(1, 3000); x := a * b])\n",
        )]);
        let engine = PhaseEngine::new(&t.bundle(Phase::Evaluate, false).unwrap(), Duration::from_millis(20)).unwrap();
        let err = engine.decide(&json!({})).unwrap_err().to_string();
        assert!(
            err.to_lowercase().contains("time") || err.to_lowercase().contains("limit"),
            "{err}"
        );
    }

    #[test]
    fn a_broken_folder_fails_every_phase_but_loads() {
        let set = PolicySet::from_dir(std::path::Path::new("/nonexistent/policies"), DEFAULT_TIME_LIMIT);
        assert_eq!(set.problems().len(), 4);
        assert!(matches!(
            set.decide(Phase::Evaluate, &json!({})),
            Err(PolicyError::NotLoaded { .. })
        ));
    }

    #[test]
    fn embedded_set_loads_and_exposes_config() {
        let set = PolicySet::embedded(DEFAULT_TIME_LIMIT);
        assert!(set.problems().is_empty(), "{:?}", set.problems());
        assert!(!set.org_config().internal_cidrs.is_empty());
        assert_eq!(set.revision(Phase::Ingest).len(), 12);
    }

    #[test]
    fn coverage_records_the_lines_decisions_reach() {
        let (_d, t) = tree(&[(
            "ingest/i.rego",
            "package soar.ingest\n\ndecision := {\"accept\": true} if input.x == 1\n\ndecision := {\"accept\": false} if {\n\tinput.x == 2\n\tinput.y == 3\n}\n",
        )]);
        let set = PolicySet::with_coverage(&t, DEFAULT_TIME_LIMIT);
        set.decide(Phase::Ingest, &json!({"x": 1})).unwrap();
        let coverage = set.coverage().unwrap();
        // A rule head counts as reached when the rule holds; a body line when it is evaluated.
        assert_eq!(coverage.not_reached()["ingest/i.rego"], vec![5, 7]);
        set.decide(Phase::Ingest, &json!({"x": 2, "y": 3})).unwrap();
        assert_eq!(set.coverage().unwrap().percent(), Some(100.0));
        assert!(PolicySet::from_tree(&t, DEFAULT_TIME_LIMIT).coverage().is_none());
    }
}
