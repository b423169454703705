//! infra/template.yaml sets exactly the variables each function reads (no more, no fewer).

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_lambda::FUNCTION_VARIABLES;
use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

#[test]
fn the_template_sets_exactly_what_each_function_reads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    // CloudFormation tags (!Ref, !Sub, ...) load as plain values; only the keys matter here.
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let resources = &docs[0]["Resources"];
    let Yaml::Hash(resources) = resources else {
        panic!("no Resources")
    };
    let mut seen = BTreeSet::new();
    for (_, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let code = resource["Properties"]["CodeUri"].as_str().unwrap();
        let function = code.trim_end_matches('/').rsplit('/').next().unwrap();
        let Yaml::Hash(vars) = &resource["Properties"]["Environment"]["Variables"] else {
            panic!("{function} has no environment")
        };
        let in_template: BTreeSet<&str> = vars.keys().filter_map(Yaml::as_str).collect();
        let (_, reads) = FUNCTION_VARIABLES
            .iter()
            .find(|(name, _)| *name == function)
            .unwrap_or_else(|| panic!("the template deploys {function}, which soar does not have"));
        let reads: BTreeSet<&str> = reads.iter().copied().collect();
        assert_eq!(in_template, reads, "{function}: template vs. what the function reads");
        seen.insert(function.to_string());
    }
    let all: BTreeSet<String> = FUNCTION_VARIABLES.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(seen, all, "every function is in the template");
}
