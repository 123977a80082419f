//! The Lambda container images are what Lambda takes: built for the architecture the template
//! deploys, and as one manifest without attestations (Lambda refuses an image index:
//! https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).

use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The value of `NAME=` on the line that starts with `prefix` (up to a space, a quote or `}`).
fn value_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    let line = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"));
    line.split(|c: char| c.is_whitespace() || c == '"' || c == '}')
        .next()
        .unwrap_or_default()
}

#[test]
fn the_lambda_images_are_built_for_the_templates_architecture_without_attestations() {
    let template = read("template.yaml");
    let architecture = value_after(&template, "Architectures: [")
        .trim_end_matches(']')
        .to_owned();
    assert_eq!(architecture, "arm64");

    // The Dockerfile compiles for it unless told otherwise.
    let dockerfile = read("Dockerfile");
    assert_eq!(value_after(&dockerfile, "ARG LAMBDA_ARCH="), architecture);

    // make lambda-images builds for its platform, and never an index.
    let script = read("scripts/lambda-images.sh");
    assert_eq!(
        value_after(&script, "platform=\"${PLATFORM:-"),
        format!("linux/{architecture}")
    );
    let buildx = script
        .lines()
        .find(|l| l.contains("buildx build"))
        .expect("a buildx build");
    for flag in ["--provenance=false", "--sbom=false", "--platform"] {
        assert!(buildx.contains(flag), "{flag} missing: {buildx}");
    }
    let makefile = read("Makefile");
    assert!(makefile.contains("scripts/lambda-images.sh"));
}
