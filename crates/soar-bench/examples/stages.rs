//! Where a decision's time goes: engine clone, input parse, evaluation, output. Run with
//! `cargo run --release -p soar-bench --example stages` from the repository root.

// A benchmark driver: a failed unwrap stops the measurement, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_core::document::Phase;
use soar_policy::{DEFAULT_TIME_LIMIT, PolicySet, PolicyTree};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let root = std::env::current_dir().unwrap();
    let tree = PolicyTree::embedded();
    let set = Arc::new(PolicySet::from_tree(&tree, DEFAULT_TIME_LIMIT));
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let alerts = soar_bench::corpus::alerts(&root).unwrap();
    let inputs = runtime.block_on(soar_bench::corpus::phase_inputs(&alerts, set.clone()));
    for phase in Phase::ALL {
        let bundle = tree.bundle(phase, false).unwrap();
        let mut template = regorus::Engine::new();
        for (p, s) in &bundle.modules {
            template.add_policy(p.clone(), s.clone()).unwrap();
        }
        template
            .add_data(serde_json::from_value(bundle.data.clone()).unwrap())
            .unwrap();
        let rule = format!("data.soar.{phase}.decision");
        template.set_input(regorus::Value::new_object());
        let _ = template.eval_rule(rule.clone());
        let texts: Vec<String> = inputs
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, v)| v.to_string())
            .collect();
        let (mut clone, mut parse, mut eval, mut out, mut reuse) = (
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        );
        let mut kept = template.clone();
        // The bytecode VM on the same bundle.
        let compiled = {
            let mut e = template.clone();
            e.compile_with_entrypoint(&std::sync::Arc::<str>::from(rule.as_str()))
                .unwrap()
        };
        let program =
            regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[rule.as_str()]).unwrap();
        let mut vm = regorus::rvm::vm::RegoVM::new_with_policy(compiled.clone());
        vm.load_program(program);
        vm.set_data(serde_json::from_value(bundle.data.clone()).unwrap())
            .unwrap();
        let (mut rvm, mut mismatches) = (Duration::ZERO, 0);
        for text in &texts {
            let t = Instant::now();
            let mut engine = template.clone();
            clone += t.elapsed();
            let t = Instant::now();
            let input = regorus::Value::from_json_str(text).unwrap();
            parse += t.elapsed();
            let t = Instant::now();
            engine.set_input(input.clone());
            let result = engine.eval_rule(rule.clone()).unwrap();
            eval += t.elapsed();
            let t = Instant::now();
            std::hint::black_box(result.to_json_str().unwrap());
            out += t.elapsed();
            let t = Instant::now();
            kept.set_input(input.clone());
            let expected = kept.eval_rule(rule.clone()).unwrap();
            reuse += t.elapsed();
            let t = Instant::now();
            vm.set_input(input);
            let got = vm.execute_entry_point_by_name(&rule);
            rvm += t.elapsed();
            match got {
                Ok(v) if v == expected => {}
                other => {
                    if mismatches == 0 {
                        println!(
                            "  rvm differs: {:?}",
                            other.map(|v| v.to_json_str().unwrap_or_default())
                        );
                    }
                    mismatches += 1;
                }
            }
        }
        let n = texts.len() as u32;
        println!(
            "{phase:<10} n={n:<4} avg input {:>6} B  clone {:>6.1?}  parse {:>6.1?}  eval {:>6.1?}  output {:>6.1?}  reused {:>6.1?}  rvm {:>6.1?} ({mismatches} differ)",
            texts.iter().map(String::len).sum::<usize>() / texts.len(),
            clone / n,
            parse / n,
            eval / n,
            out / n,
            reuse / n,
            rvm / n
        );
    }
}
