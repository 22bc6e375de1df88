//! The real configurations of `../shared/corpus`: no false YAML or template syntax error on
//! any reachable file, no panic, and the two real latent bugs found at their file and line.
//! The corpus tests are skipped where `../shared` does not exist; the copies in
//! `tests/fixtures/ha/corpus-bugs` keep the bug tests running everywhere.

mod check_common;

use std::path::{Path, PathBuf};

use check_common::{dump, expect, expect_at};
use gitops_bridge::validate::{CheckOptions, Code, Severity, check};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ha/corpus-bugs")
        .join(name)
}

#[test]
fn strftime_filter_inside_if_from_ccostan() {
    let r = check(&CheckOptions::new(fixture("ccostan"))).unwrap();
    let d = expect_at(
        &r,
        Code::TemplateUnknownFilter,
        "packages/powerwall.yaml",
        84,
        62,
    );
    assert!(d.message.contains("`strftime`"));
}

#[test]
fn statest_typo_from_aneisch() {
    let r = check(&CheckOptions::new(fixture("aneisch"))).unwrap();
    let d = expect_at(
        &r,
        Code::TemplateUnknownFunction,
        "packages/ups_monitor.yaml",
        10,
        20,
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `states`?"));
}

/// `(directory, configuration root inside it)`
const CORPUS: &[(&str, &str)] = &[
    ("CCOSTAN__Home-AssistantConfig", "config"),
    ("JamesMcCarthy79__Home-Assistant-Config", "config"),
    ("aneisch__home-assistant-config", "."),
    ("frenck__home-assistant-config", "."),
    ("geekofweek__homeassistant", "."),
];

/// The corpus, or `None` (the test then passes as skipped, which `.ci/run` names in its
/// summary). With `GITOPS_BRIDGE_REQUIRE_CORPUS=1` a missing corpus fails instead.
fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var_os("GITOPS_BRIDGE_REQUIRE_CORPUS").is_none_or(|v| v != "1"),
        "{} is missing and GITOPS_BRIDGE_REQUIRE_CORPUS=1",
        p.display()
    );
    None
}

#[test]
fn corpus_has_no_false_syntax_errors() {
    let Some(corpus) = corpus() else {
        eprintln!("../shared/corpus not present: skipped");
        return;
    };
    for (dir, root) in CORPUS {
        let r = check(&CheckOptions::new(corpus.join(dir).join(root))).unwrap();
        let syntax: Vec<_> = r
            .diagnostics
            .iter()
            .filter(|d| {
                matches!(
                    d.code,
                    Code::YamlSyntax
                        | Code::YamlEncoding
                        | Code::YamlInvalidKey
                        | Code::YamlUnknownTag
                        | Code::YamlMergeInvalid
                        | Code::TagMissingArgument
                        | Code::TemplateSyntax
                )
            })
            .collect();
        assert!(syntax.is_empty(), "{dir}: {syntax:#?}");
        assert!(
            r.summary.files > 10 && r.summary.templates > 0
                || *dir == "frenck__home-assistant-config",
            "{dir}: {:?}",
            r.summary
        );
    }
}

#[test]
fn corpus_latent_bugs_at_their_lines() {
    let Some(corpus) = corpus() else {
        eprintln!("../shared/corpus not present: skipped");
        return;
    };
    let r = check(&CheckOptions::new(
        corpus.join("aneisch__home-assistant-config"),
    ))
    .unwrap();
    expect_at(
        &r,
        Code::TemplateUnknownFunction,
        "packages/ups_monitor.yaml",
        132,
        20,
    );
    let r = check(&CheckOptions::new(
        corpus.join("CCOSTAN__Home-AssistantConfig/config"),
    ))
    .unwrap();
    expect_at(
        &r,
        Code::TemplateUnknownFilter,
        "packages/powerwall.yaml",
        84,
        62,
    );
    // and the silently ignored mapping file in a merge-list directory
    expect(&r, Code::IncludeDirIgnoredFile, "sensor/MQTT.yaml", 11);
    // and nothing else is an error in that large, modern configuration
    let errors: Vec<_> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{}", dump(&r));
}
