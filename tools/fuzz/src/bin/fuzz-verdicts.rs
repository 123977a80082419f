//! `fuzz-verdicts seeds DIR`: writes the shared vectors (expanded) into DIR as fuzzing seeds.
//! `fuzz-verdicts sample N DIR...`: prints the native verdict (one JSON line each) on up to N
//! inputs of the corpora that are UTF-8 text, for the comparison with the wasm build.

use std::io::Write as _;
use std::path::Path;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seeds") => {
            let dir = Path::new(args.get(1).ok_or("seeds DIR")?);
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let file: serde_json::Value =
                serde_json::from_str(event_schema::vectors::FILE).map_err(|e| e.to_string())?;
            for (i, v) in file["vectors"].as_array().into_iter().flatten().enumerate() {
                let input = event_schema::vectors::expand(v["input"].as_str().unwrap_or_default());
                std::fs::write(dir.join(format!("vector-{i:03}")), input)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Some("sample") => {
            let n: usize = args
                .get(1)
                .and_then(|n| n.parse().ok())
                .ok_or("sample N DIR...")?;
            let mut out = std::io::stdout().lock();
            let mut taken = 0;
            for dir in &args[2..] {
                let mut files: Vec<_> = std::fs::read_dir(dir)
                    .map_err(|e| format!("{dir}: {e}"))?
                    .flatten()
                    .map(|e| e.path())
                    .collect();
                files.sort();
                for path in files {
                    if taken == n {
                        return Ok(());
                    }
                    let Ok(text) = String::from_utf8(std::fs::read(&path).unwrap_or_default())
                    else {
                        continue;
                    };
                    writeln!(out, "{}", pipeline_fuzz::verdict(&text))
                        .map_err(|e| e.to_string())?;
                    taken += 1;
                }
            }
            Ok(())
        }
        _ => Err("usage: fuzz-verdicts seeds DIR | sample N DIR...".into()),
    }
}
