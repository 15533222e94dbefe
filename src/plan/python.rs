//! The Python clients shipped in `clients/python/`: their scripts, embedded in the binary and
//! written to a temporary directory for each run, and the interpreter that runs them, checked
//! for the packages they import before anything is measured.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::error::ConfigError;
use crate::model::strategy::PyClient;

/// The scripts, by file name: the protocol's shared half, then one per client.
pub(crate) const SCRIPTS: [(&str, &str); 9] = [
    (
        "asyncbench_client.py",
        include_str!("../../clients/python/asyncbench_client.py"),
    ),
    (
        "py_sequential.py",
        include_str!("../../clients/python/py_sequential.py"),
    ),
    (
        "py_threadpool.py",
        include_str!("../../clients/python/py_threadpool.py"),
    ),
    (
        "py_aiohttp.py",
        include_str!("../../clients/python/py_aiohttp.py"),
    ),
    ("py_httpx.py", include_str!("../../clients/python/py_httpx.py")),
    ("py_openai.py", include_str!("../../clients/python/py_openai.py")),
    (
        "py_anthropic.py",
        include_str!("../../clients/python/py_anthropic.py"),
    ),
    (
        "py_blocking_in_async.py",
        include_str!("../../clients/python/py_blocking_in_async.py"),
    ),
    (
        "py_to_thread.py",
        include_str!("../../clients/python/py_to_thread.py"),
    ),
];

/// The pinned requirements, as `pip install -r` takes them.
pub(crate) const REQUIREMENTS: &str = "clients/python/requirements.txt";

/// The interpreter to run the clients with: `--python`, else `$ASYNCBENCH_PYTHON`, else the
/// project's virtual environment (`clients/python/.venv`, which `.ci/run` makes) when this
/// binary was built from a checkout that has one, else `python3` on the PATH.
pub(crate) fn interpreter(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_owned();
    }
    if let Some(p) = std::env::var_os("ASYNCBENCH_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python/.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// The `pip install` line that fixes a missing package, for `python`: the checkout's
/// requirements by their whole path, so the line works from wherever asyncbench was started
/// (`clients/python/…` alone named nothing outside the checkout); the relative path, said to be
/// the checkout's, for a binary moved away from it.
pub(crate) fn fix_command(python: &Path) -> String {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join(REQUIREMENTS);
    if here.exists() {
        format!("{} -m pip install -r {}", python.display(), here.display())
    } else {
        format!(
            "{} -m pip install -r {REQUIREMENTS} (in asyncbench's checkout)",
            python.display()
        )
    }
}

/// Checks that `python` runs (3.9 or later) and imports every module `clients` need; one
/// [`ConfigError`] naming what is missing and the command that installs it, else the
/// interpreter's version.
pub(crate) fn check(python: &Path, clients: &[PyClient]) -> Result<String, ConfigError> {
    let mut modules: Vec<&str> = clients.iter().flat_map(|c| c.modules()).copied().collect();
    modules.sort_unstable();
    modules.dedup();
    // Prints the version, then the modules that fail to import, one per line.
    let probe = format!(
        "import sys, importlib\nprint('%d.%d.%d' % sys.version_info[:3])\nfor m in {modules:?}:\n    try:\n        importlib.import_module(m)\n    except Exception:\n        print(m)\n"
    );
    let out = Command::new(python)
        .args(["-c", &probe])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ConfigError::External {
            why: format!(
                "the Python clients need a Python interpreter, and '{}' cannot be run ({e}); install Python 3.9+, or name one with --python or $ASYNCBENCH_PYTHON",
                python.display()
            ),
        })?;
    let not_python = |what: String| ConfigError::External {
        why: format!(
            "'{}' {what}: is it a Python interpreter? Install Python 3.9+, or name one with --python or $ASYNCBENCH_PYTHON",
            python.display()
        ),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(last) => not_python(format!("failed to start ({}): {}", out.status, last.trim())),
            None => not_python(format!("failed to start ({}) and said nothing", out.status)),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("").to_owned();
    let Some(numbers) = version
        .split('.')
        .map(|v| v.parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()
        .filter(|n| n.len() == 3)
    else {
        return Err(not_python("did not print its version when asked".to_owned()));
    };
    if numbers[..2] < [3, 9][..] {
        return Err(ConfigError::External {
            why: format!(
                "the Python clients need Python 3.9 or later; '{}' is {version}",
                python.display()
            ),
        });
    }
    let missing: Vec<&str> = lines.collect();
    if !missing.is_empty() {
        return Err(ConfigError::External {
            why: format!(
                "the Python package{} {} cannot be imported by '{}'; install them with: {}",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                python.display(),
                fix_command(python)
            ),
        });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_has_its_script_embedded() {
        for p in PyClient::ALL {
            let (_, text) = SCRIPTS
                .iter()
                .find(|(n, _)| *n == p.script())
                .unwrap_or_else(|| panic!("{} not embedded", p.script()));
            assert!(text.contains("import asyncbench_client"), "{}", p.script());
        }
    }

    #[test]
    fn a_missing_interpreter_names_the_fix() {
        let e = check(Path::new("/nonexistent/python3"), &[PyClient::Aiohttp]).expect_err("no python");
        let text = e.to_string();
        assert!(
            text.contains("/nonexistent/python3") && text.contains("--python"),
            "{text}"
        );
    }

    /// A program that is no Python says so, whether it fails silently or prints no version
    /// (`/bin/true` read as "'/bin/true' is " and nothing after).
    #[test]
    fn a_program_that_is_not_python_is_named() {
        for (program, says) in [
            (
                "/bin/true",
                "'/bin/true' did not print its version when asked: is it a Python interpreter?",
            ),
            (
                "/bin/false",
                "'/bin/false' failed to start (exit status: 1) and said nothing: is it a Python interpreter?",
            ),
        ] {
            let e = check(Path::new(program), &[PyClient::Aiohttp]).expect_err(program);
            let text = e.to_string();
            assert!(text.contains(says) && text.contains("--python"), "{text}");
        }
    }
}
