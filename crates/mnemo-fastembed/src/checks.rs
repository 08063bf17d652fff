//! Checks of the offline files, run before ONNX Runtime is touched, so a missing or wrong
//! file is an `EmbedError::Setup` naming the fix instead of a panic deep inside `ort`.

use std::path::{Path, PathBuf};

use mnemo_core::EmbedError;

use crate::{Model, SETUP_COMMAND};

/// The ONNX Runtime minor version this crate is built and tested against (`1.24.x`); equal to
/// the API version `ort` is compiled for.
pub(crate) const ORT_MINOR: u32 = 24;

/// The tokenizer files fastembed needs next to `model.onnx`.
pub(crate) const TOKENIZER_FILES: [&str; 4] = [
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

/// The ONNX model file inside the model directory.
pub(crate) const MODEL_FILE: &str = "model.onnx";

fn setup_error(what: impl std::fmt::Display) -> EmbedError {
    EmbedError::Setup(format!("{what}; run `{SETUP_COMMAND}`"))
}

fn model_setup_error(what: impl std::fmt::Display, model: Model) -> EmbedError {
    EmbedError::Setup(format!("{what}; run `{}`", model.setup_command()))
}

/// Checks that `path` is an ONNX Runtime 1.24.x library file by its name, and returns its
/// canonical path (symlinks resolved, absolute), which is what gets loaded.
pub(crate) fn ort_library(path: &Path) -> Result<PathBuf, EmbedError> {
    let canonical = path.canonicalize().map_err(|_| {
        setup_error(format_args!(
            "ONNX Runtime library not found at {}",
            path.display()
        ))
    })?;
    if !canonical.is_file() {
        return Err(setup_error(format_args!(
            "ONNX Runtime library path {} is not a file",
            path.display()
        )));
    }
    let name = canonical
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    match version_in_file_name(name) {
        Some((1, ORT_MINOR, _)) => Ok(canonical),
        Some((major, minor, patch)) => Err(setup_error(format_args!(
            "ONNX Runtime library at {} is version {major}.{minor}.{patch}, mnemo needs 1.{ORT_MINOR}.x",
            canonical.display()
        ))),
        None => Err(setup_error(format_args!(
            "{} is not a versioned ONNX Runtime library (expected a file named like libonnxruntime.so.1.{ORT_MINOR}.4)",
            canonical.display()
        ))),
    }
}

/// The `major.minor.patch` in an ONNX Runtime library file name: `libonnxruntime.so.1.24.4`
/// (Linux) or `libonnxruntime.1.24.4.dylib` (macOS).
pub(crate) fn version_in_file_name(name: &str) -> Option<(u32, u32, u32)> {
    let rest = name.strip_prefix("libonnxruntime.")?;
    let rest = rest.strip_prefix("so.").unwrap_or(rest);
    let rest = rest.strip_suffix(".dylib").unwrap_or(rest);
    let mut parts = rest.split('.').map(|part| part.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// The bytes of the model and tokenizer files, read up front so nothing is missing later.
pub(crate) struct ModelFiles {
    pub(crate) onnx: Vec<u8>,
    pub(crate) tokenizer: fastembed::TokenizerFiles,
}

/// Reads `model.onnx` and the four tokenizer files of `model` from `dir`.
pub(crate) fn model_files(dir: &Path, model: Model) -> Result<ModelFiles, EmbedError> {
    if !dir.is_dir() {
        return Err(model_setup_error(
            format_args!(
                "embedding model directory {} ({model}) not found",
                dir.display()
            ),
            model,
        ));
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|err| {
            model_setup_error(
                format_args!(
                    "embedding model file {} cannot be read ({err})",
                    path.display()
                ),
                model,
            )
        })
    };
    let [
        tokenizer_file,
        config_file,
        special_tokens_map_file,
        tokenizer_config_file,
    ] = TOKENIZER_FILES;
    Ok(ModelFiles {
        onnx: read(MODEL_FILE)?,
        tokenizer: fastembed::TokenizerFiles {
            tokenizer_file: read(tokenizer_file)?,
            config_file: read(config_file)?,
            special_tokens_map_file: read(special_tokens_map_file)?,
            tokenizer_config_file: read(tokenizer_config_file)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::version_in_file_name;

    fn check(name: &str, expected: Option<(u32, u32, u32)>) {
        assert_eq!(version_in_file_name(name), expected, "file name {name:?}");
    }

    #[test]
    fn version_in_file_name_reads_linux_and_macos_names() {
        check("libonnxruntime.so.1.24.4", Some((1, 24, 4)));
        check("libonnxruntime.so.1.19.0", Some((1, 19, 0)));
        check("libonnxruntime.1.24.4.dylib", Some((1, 24, 4)));
        check("libonnxruntime.so.2.0.10", Some((2, 0, 10)));
    }

    #[test]
    fn version_in_file_name_rejects_unversioned_or_foreign_names() {
        check("libonnxruntime.so", None);
        check("libonnxruntime.so.1", None);
        check("libonnxruntime.so.1.24", None);
        check("libonnxruntime.so.1.24.4.bak", None);
        check("libonnxruntime.so.1.24.x", None);
        check("libonnxruntime_providers_shared.so", None);
        check("onnxruntime.dll", None);
        check("libfoo.so.1.24.4", None);
        check("", None);
    }
}
