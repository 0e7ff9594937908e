//! Embeds the uap-core regex set into the crate as static Rust data.
//!
//! The `ua-parser` crate implements the uap matching rules but deliberately ships no loader,
//! and our repository may not carry a copy of `regexes.yaml`. The crate's published package
//! does carry the file (`uap-core/regexes.yaml`, Apache-2.0), so this script finds that
//! package on disk through `cargo metadata` (the package `ua-parser` resolved for this crate,
//! wherever Cargo keeps it: registry cache, vendored directory or git checkout), reads the
//! YAML once at build time and writes it out as `static` arrays. At run time nothing is
//! parsed or read from disk, and the regex set always matches the `ua-parser` version in
//! `Cargo.lock`.
//!
//! `NATTER_UAP_REGEXES=/path/to/regexes.yaml` overrides the lookup, e.g. for a packager who
//! wants a newer uap-core release than the one inside the crate.

use std::env;
use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

type BoxError = Box<dyn Error>;

fn main() -> Result<(), BoxError> {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=NATTER_UAP_REGEXES");

    let path = match env::var_os("NATTER_UAP_REGEXES") {
        Some(path) => PathBuf::from(path),
        None => regexes_from_ua_parser_package()?,
    };
    println!("cargo::rerun-if-changed={}", path.display());

    let yaml = fs::read_to_string(&path)
        .map_err(|e| format!("reading uap regexes from {}: {e}", path.display()))?;
    let regexes: Regexes = serde_yaml_ng::from_str(&yaml)
        .map_err(|e| format!("parsing uap regexes from {}: {e}", path.display()))?;
    let code = generate(&regexes, &path)?;

    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    fs::write(out.join("uap_regexes.rs"), code)?;
    Ok(())
}

/// Asks Cargo where the `ua-parser` package that this crate depends on lives.
fn regexes_from_ua_parser_package() -> Result<PathBuf, BoxError> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("no manifest dir")?);
    let manifest = manifest_dir.join("Cargo.toml");
    let mut command = Command::new(cargo);
    command.args(["metadata", "--format-version", "1", "--manifest-path"]);
    command.arg(&manifest);
    // Only the packages built for this target: other platforms' dependencies may not have
    // been downloaded, and must not be needed.
    if let Some(target) = env::var_os("TARGET") {
        command.arg("--filter-platform").arg(target);
    }
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata` failed while looking for ua-parser's regexes.yaml (set \
             NATTER_UAP_REGEXES to a uap-core regexes.yaml to bypass):\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout)?;

    // A different ua-parser version could be in the graph through another package, so follow
    // this package's own dependency edge rather than matching on the name alone.
    let canonical_manifest = manifest.canonicalize()?;
    let own_id = metadata
        .packages
        .iter()
        .find(|p| {
            Path::new(&p.manifest_path).canonicalize().ok() == Some(canonical_manifest.clone())
        })
        .map(|p| p.id.clone())
        .ok_or("cargo metadata does not list natter-visitor")?;
    let node = metadata
        .resolve
        .as_ref()
        .and_then(|r| r.nodes.iter().find(|n| n.id == own_id))
        .ok_or("cargo metadata has no resolve node for natter-visitor")?;
    let dep_id = node
        .deps
        .iter()
        .find(|d| d.name == "ua_parser")
        .map(|d| d.pkg.clone())
        .ok_or("natter-visitor does not depend on ua-parser")?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.id == dep_id)
        .ok_or("cargo metadata does not list ua-parser")?;

    // The workspace lock file decides which ua-parser is used; when it changes, look again.
    println!(
        "cargo::rerun-if-changed={}",
        Path::new(&metadata.workspace_root)
            .join("Cargo.lock")
            .display()
    );

    let package_dir = Path::new(&package.manifest_path)
        .parent()
        .ok_or("ua-parser's manifest has no directory")?;
    let path = package_dir.join("uap-core").join("regexes.yaml");
    if !path.is_file() {
        return Err(format!(
            "ua-parser {} no longer ships uap-core/regexes.yaml (looked at {}); set \
             NATTER_UAP_REGEXES or update crates/visitor/build.rs",
            package.version,
            path.display()
        )
        .into());
    }
    Ok(path)
}

fn generate(regexes: &Regexes, source: &Path) -> Result<String, BoxError> {
    let mut code = String::new();
    writeln!(code, "// Generated by build.rs from {}.", source.display())?;
    writeln!(code, "// Do not edit: change the build script instead.")?;

    writeln!(code, "static USER_AGENT_PARSERS: &[UaRow] = &[")?;
    for p in &regexes.user_agent_parsers {
        writeln!(
            code,
            "    UaRow {{ regex: {:?}, family: {}, v1: {}, v2: {}, v3: {}, v4: {} }},",
            p.regex,
            opt(&p.family_replacement),
            opt(&p.v1_replacement),
            opt(&p.v2_replacement),
            opt(&p.v3_replacement),
            opt(&p.v4_replacement),
        )?;
    }
    writeln!(code, "];")?;

    writeln!(code, "static OS_PARSERS: &[OsRow] = &[")?;
    for p in &regexes.os_parsers {
        writeln!(
            code,
            "    OsRow {{ regex: {:?}, os: {}, v1: {}, v2: {}, v3: {}, v4: {} }},",
            p.regex,
            opt(&p.os_replacement),
            opt(&p.os_v1_replacement),
            opt(&p.os_v2_replacement),
            opt(&p.os_v3_replacement),
            opt(&p.os_v4_replacement),
        )?;
    }
    writeln!(code, "];")?;

    writeln!(code, "static DEVICE_PARSERS: &[DeviceRow] = &[")?;
    for p in &regexes.device_parsers {
        let ignore_case = match p.regex_flag.as_deref() {
            None => false,
            Some("i") => true,
            Some(other) => return Err(format!("unknown uap regex_flag {other:?}").into()),
        };
        writeln!(
            code,
            "    DeviceRow {{ regex: {:?}, ignore_case: {ignore_case}, device: {}, brand: {}, \
             model: {} }},",
            p.regex,
            opt(&p.device_replacement),
            opt(&p.brand_replacement),
            opt(&p.model_replacement),
        )?;
    }
    writeln!(code, "];")?;
    Ok(code)
}

/// A Rust expression for an optional string (`Debug` of a `str` is a valid Rust literal).
fn opt(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("Some({v:?})"),
        None => "None".to_owned(),
    }
}

// The uap-core schema. Unknown fields are an error so that a future regexes.yaml with a new
// kind of rule fails the build instead of silently parsing differently.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Regexes {
    user_agent_parsers: Vec<UaParser>,
    os_parsers: Vec<OsParser>,
    device_parsers: Vec<DeviceParser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UaParser {
    regex: String,
    family_replacement: Option<String>,
    v1_replacement: Option<String>,
    v2_replacement: Option<String>,
    v3_replacement: Option<String>,
    v4_replacement: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OsParser {
    regex: String,
    os_replacement: Option<String>,
    os_v1_replacement: Option<String>,
    os_v2_replacement: Option<String>,
    os_v3_replacement: Option<String>,
    os_v4_replacement: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceParser {
    regex: String,
    regex_flag: Option<String>,
    device_replacement: Option<String>,
    brand_replacement: Option<String>,
    model_replacement: Option<String>,
}

// The parts of `cargo metadata`'s output this script reads.

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Option<Resolve>,
    workspace_root: String,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    version: String,
    manifest_path: String,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    name: String,
    pkg: String,
}
