//! `fuzz-verdicts seeds DIR`: writes the shared vectors (expanded) into DIR as fuzzing seeds.
//! `fuzz-verdicts sample N DIR...`: prints the native verdict (one JSON line each) on up to N
//! inputs of the corpora that are UTF-8 text, for the comparison with the wasm build.

use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The fuzzing run's plain helpers: seeds from the shared vectors, and native verdicts for the
/// comparison with the wasm build.
#[derive(Parser)]
#[command(name = "fuzz-verdicts")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the shared vectors (expanded) into DIR as fuzzing seeds.
    Seeds {
        /// Where the seeds go (created if missing).
        dir: PathBuf,
    },
    /// Prints the native verdict (one JSON line each) on up to N inputs of the corpora that are
    /// UTF-8 text, in file-name order, corpus by corpus.
    Sample {
        /// Most inputs to take.
        n: usize,
        /// The corpus directories.
        dirs: Vec<PathBuf>,
    },
}

fn main() -> Result<(), String> {
    match Cli::parse().command {
        Command::Seeds { dir } => seeds(&dir),
        Command::Sample { n, dirs } => sample(n, &dirs),
    }
}

fn seeds(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let file: serde_json::Value =
        serde_json::from_str(event_schema::vectors::FILE).map_err(|e| e.to_string())?;
    for (i, v) in file["vectors"].as_array().into_iter().flatten().enumerate() {
        let input = event_schema::vectors::expand(v["input"].as_str().unwrap_or_default());
        std::fs::write(dir.join(format!("vector-{i:03}")), input).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn sample(n: usize, dirs: &[PathBuf]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let mut taken = 0;
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            if taken == n {
                return Ok(());
            }
            let Ok(text) = String::from_utf8(std::fs::read(&path).unwrap_or_default()) else {
                continue;
            };
            writeln!(out, "{}", pipeline_fuzz::verdict(&text)).map_err(|e| e.to_string())?;
            taken += 1;
        }
    }
    Ok(())
}
