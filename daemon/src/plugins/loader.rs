//! Loading one plugin: the file check and `dlopen` through one descriptor, the ABI checks of
//! the table, and `create` with the plugin's configuration.

use std::ffi::{CStr, c_void};
use std::fs::{File, Metadata};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use licd_plugin_api::ffi::{
    ABI_VERSION, AuthenticateFn, CreateFn, DestroyFn, ENTRY_SYMBOL, EntryFn, LICD_ALLOW,
    LicdPluginV1, MapArgsFn, V1_BASE_SIZE, WebhookFn,
};
use std::mem::offset_of;

use super::FIRST_BUFFER_BYTES;
use super::call::{Api, Instance, Plugin};
use crate::config::PluginConfig;

/// How long `create` may take at start before licd gives up on the plugin.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a plugin could not be loaded; licd then refuses to start. Every message names the
/// plugin and its path.
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    /// The file could not be opened or inspected.
    #[error("plugin {plugin}: cannot open {}: {source}", path.display())]
    Open {
        /// `[[plugin]] name`.
        plugin: String,
        /// The configured path.
        path: PathBuf,
        /// The OS reason.
        source: std::io::Error,
    },
    /// The file's type, owner or permissions make it unsafe to load.
    #[error("plugin {plugin}: refusing to load {}: {problem}", path.display())]
    UnsafeFile {
        /// `[[plugin]] name`.
        plugin: String,
        /// The configured path.
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// `dlopen` failed (not a shared library, a missing dependency or symbol, …).
    #[error("plugin {plugin}: cannot load {}: {detail}", path.display())]
    Dlopen {
        /// `[[plugin]] name`.
        plugin: String,
        /// The configured path.
        path: PathBuf,
        /// The loader's message.
        detail: String,
    },
    /// No `licd_plugin_entry_v1`: not a licd plugin, or one for another major ABI version.
    #[error(
        "plugin {plugin}: {} does not export licd_plugin_entry_v1: it is not a licd plugin for ABI version {ABI_VERSION} (a plugin for another major version exports another symbol); rebuild it against this licd's licd_plugin.h ({detail})",
        path.display()
    )]
    NoEntry {
        /// `[[plugin]] name`.
        plugin: String,
        /// The configured path.
        path: PathBuf,
        /// The loader's message.
        detail: String,
    },
    /// The table's `abi_version` is not the one this licd speaks.
    #[error(
        "plugin {plugin}: {} was built for plugin ABI version {found}, but this licd supports ABI version {expected}; rebuild the plugin against this licd's licd_plugin.h",
        path.display()
    )]
    Version {
        /// `[[plugin]] name`.
        plugin: String,
        /// The configured path.
        path: PathBuf,
        /// The plugin's `abi_version`.
        found: u32,
        /// [`ABI_VERSION`].
        expected: u32,
    },
    /// The table is malformed (smaller than version 1's, a required function missing, …).
    #[error("plugin {plugin}: {}: {problem}", path.display())]
    BadTable {
        /// `[[plugin]] name`.
        plugin: String,
        /// The configured path.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// `create` refused the `[plugin.config]` table (or failed).
    #[error("plugin {plugin}: {} refused its configuration: {reason}", path.display())]
    Refused {
        /// `[[plugin]] name`.
        plugin: String,
        /// The configured path.
        path: PathBuf,
        /// The plugin's own words.
        reason: String,
    },
}

/// Loads `config`'s library and creates its instance.
pub(super) fn load(config: &PluginConfig) -> Result<Plugin, PluginLoadError> {
    let open_error = |source| PluginLoadError::Open {
        plugin: config.name.clone(),
        path: config.path.clone(),
        source,
    };
    // The check and the load go through this one descriptor, so the file cannot be swapped
    // between them; std opens with O_CLOEXEC, and `metadata` is fstat on the descriptor.
    let file = File::open(&config.path).map_err(open_error)?;
    let meta = file.metadata().map_err(open_error)?;
    // SAFETY: geteuid cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    check_file(&meta, euid).map_err(|problem| PluginLoadError::UnsafeFile {
        plugin: config.name.clone(),
        path: config.path.clone(),
        problem,
    })?;
    let via_descriptor = format!("/proc/self/fd/{}", file.as_raw_fd());
    // SAFETY: loading runs the library's initialisers; the file passed the owner and
    // permission checks above, which is what an admin vouches for by configuring it.
    // RTLD_NOW makes a missing symbol fail here, at start, not at the first call; RTLD_LOCAL
    // keeps the plugin's symbols from resolving other plugins' references.
    let library =
        unsafe { Library::open(Some(&via_descriptor), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
            PluginLoadError::Dlopen {
                plugin: config.name.clone(),
                path: config.path.clone(),
                detail: e.to_string(),
            }
        })?;
    // SAFETY: the symbol's type is the one licd_plugin.h declares for this name.
    let entry =
        unsafe { library.get::<EntryFn>(ENTRY_SYMBOL) }.map_err(|e| PluginLoadError::NoEntry {
            plugin: config.name.clone(),
            path: config.path.clone(),
            detail: e.to_string(),
        })?;
    // SAFETY: the ABI's entry function takes nothing and returns a pointer to a static table.
    let table = unsafe { entry() };
    // The descriptor stays open as long as the library stays loaded (for ever): the dynamic
    // loader knows the library by the name "/proc/self/fd/N", and matches a later dlopen of
    // the same name to it, so with this descriptor closed the next plugin's file, given the
    // same number, would silently get this plugin's code.
    let loaded = LoadedLibrary {
        _library: library,
        _file: file,
    };
    // SAFETY: `table` is the plugin's static table (checked below before it is read further).
    unsafe { instantiate(config, table, Some(loaded)) }
}

/// A loaded library and the descriptor it was loaded through, both kept for the life of the
/// process (see [`load`]).
pub(super) struct LoadedLibrary {
    pub(super) _library: Library,
    pub(super) _file: File,
}

/// Refuses anything but a regular file owned by root or licd's own user that nobody else may
/// write: whoever can change the file runs code inside licd.
fn check_file(meta: &Metadata, euid: u32) -> Result<(), String> {
    if !meta.file_type().is_file() {
        return Err("it is not a regular file; point `path` at the plugin's .so file".into());
    }
    let mode = meta.mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "it is writable by its group or by everyone (mode {:04o}), so anyone could run code inside licd; fix with `chmod go-w` on the file",
            mode & 0o7777
        ));
    }
    let owner = meta.uid();
    if owner != 0 && owner != euid {
        return Err(format!(
            "it is owned by uid {owner}, neither root nor licd's own user (uid {euid}); fix with `chown root:` on the file"
        ));
    }
    Ok(())
}

/// Checks a table and creates the instance.
///
/// # Safety
/// `table` must be null or point to a table that starts with the two `u32` fields every ABI
/// version has and stays valid for the life of the process (the library is never unloaded).
pub(super) unsafe fn instantiate(
    config: &PluginConfig,
    table: *const LicdPluginV1,
    library: Option<LoadedLibrary>,
) -> Result<Plugin, PluginLoadError> {
    // SAFETY: the caller's contract.
    let table = unsafe { check_table(config, table) }?;
    let json = serde_json::to_string(&toml_to_json(&toml::Value::Table(config.config.clone())))
        .map_err(|e| {
            bad_table(
                config,
                format!("its configuration cannot be written as JSON: {e}"),
            )
        })?;
    // SAFETY: `create` comes from the table just checked.
    let instance = unsafe { create_instance(config, table.create, json) }?;
    let api = Api {
        instance,
        authenticate: table.authenticate,
        map_args: table.map_args,
        webhook: table.webhook,
        destroy: table.destroy,
    };
    Ok(Plugin::new(
        &config.name,
        &config.path,
        table.name,
        Duration::from_millis(config.timeout_ms),
        table.flags,
        api,
        library,
    ))
}

/// A version-1 table that passed the ABI checks: its name, flags and the functions licd
/// calls, the required ones known to be there.
struct CheckedTable {
    name: String,
    flags: u32,
    create: CreateFn,
    destroy: DestroyFn,
    authenticate: AuthenticateFn,
    map_args: Option<MapArgsFn>,
    webhook: Option<WebhookFn>,
}

/// Checks the ABI version, the size, the name and the required functions of `table`.
///
/// # Safety
/// As [`instantiate`].
unsafe fn check_table(
    config: &PluginConfig,
    table: *const LicdPluginV1,
) -> Result<CheckedTable, PluginLoadError> {
    let bad = |problem: &str| bad_table(config, problem.to_owned());
    if table.is_null() {
        return Err(bad("licd_plugin_entry_v1 returned NULL"));
    }
    // Only the two fields every version has are read before the version is known.
    // SAFETY: the caller's contract.
    let (version, size) = unsafe { ((*table).abi_version, (*table).struct_size) };
    if version != ABI_VERSION {
        return Err(PluginLoadError::Version {
            plugin: config.name.clone(),
            path: config.path.clone(),
            found: version,
            expected: ABI_VERSION,
        });
    }
    let v1_size = V1_BASE_SIZE;
    if (size as usize) < v1_size {
        return Err(bad_table(
            config,
            format!("its table is {size} bytes, smaller than the {v1_size} bytes of ABI version 1"),
        ));
    }
    // Field by field: a table built before a field was appended is smaller than ours, so the
    // whole struct is never copied, and an appended field is read only when `struct_size`
    // covers it.
    // SAFETY: a version-1 table of at least `V1_BASE_SIZE` bytes (the caller's contract and
    // the checks above); every field read lies inside it.
    let (name, flags, create, destroy, authenticate, map_args) = unsafe {
        (
            (&raw const (*table).name).read(),
            (&raw const (*table).flags).read(),
            (&raw const (*table).create).read(),
            (&raw const (*table).destroy).read(),
            (&raw const (*table).authenticate).read(),
            (&raw const (*table).map_args).read(),
        )
    };
    let webhook_end = offset_of!(LicdPluginV1, webhook) + size_of::<Option<WebhookFn>>();
    let webhook = if size as usize >= webhook_end {
        // SAFETY: `struct_size` says the plugin built a table with this field.
        unsafe { (&raw const (*table).webhook).read() }
    } else {
        None
    };
    let name = if name.is_null() {
        return Err(bad("its table has no name"));
    } else {
        // SAFETY: the ABI says `name` is a NUL-terminated static string.
        unsafe { CStr::from_ptr(name) }
            .to_str()
            .map_err(|_| bad("its table's name is not UTF-8"))?
            .to_string()
    };
    let (Some(create), Some(destroy), Some(authenticate)) = (create, destroy, authenticate) else {
        return Err(bad(
            "its table lacks create, destroy or authenticate (only map_args and webhook may be NULL)",
        ));
    };
    Ok(CheckedTable {
        name,
        flags,
        create,
        destroy,
        authenticate,
        map_args,
        webhook,
    })
}

/// Calls the plugin's `create` with its configuration as JSON, on a thread of its own so
/// that a `create` that never returns cannot hang start-up forever.
///
/// # Safety
/// `create` must be the `create` of a table [`check_table`] accepted.
unsafe fn create_instance(
    config: &PluginConfig,
    create: CreateFn,
    json: String,
) -> Result<Instance, PluginLoadError> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("plugin-create-{}", config.name))
        .spawn(move || {
            let mut instance: *mut c_void = std::ptr::null_mut();
            let mut err = vec![0u8; FIRST_BUFFER_BYTES];
            let mut len = 0usize;
            // SAFETY: `create` is the checked table's; the JSON and buffers outlive the call.
            let code = unsafe {
                create(
                    json.as_ptr(),
                    json.len(),
                    &mut instance,
                    err.as_mut_ptr(),
                    err.len(),
                    &mut len,
                )
            };
            err.truncate(len.min(err.len()));
            let _ = tx.send((
                code,
                Instance(instance),
                String::from_utf8_lossy(&err).into_owned(),
            ));
        });
    if let Err(e) = spawned {
        return Err(bad_table(
            config,
            format!("cannot start a thread for create: {e}"),
        ));
    }
    let refused = |reason: String| PluginLoadError::Refused {
        plugin: config.name.clone(),
        path: config.path.clone(),
        reason,
    };
    let (code, instance, message) = rx.recv_timeout(CREATE_TIMEOUT).map_err(|_| {
        refused(format!(
            "create did not return within {} s",
            CREATE_TIMEOUT.as_secs()
        ))
    })?;
    if code != LICD_ALLOW {
        let why = if message.is_empty() {
            "no reason given".to_string()
        } else {
            message
        };
        return Err(refused(format!("{why} (create returned {code})")));
    }
    if instance.0.is_null() {
        return Err(refused("create succeeded but returned no instance".into()));
    }
    Ok(instance)
}

/// The table of the plugin `config` names is unusable, for `problem`.
fn bad_table(config: &PluginConfig, problem: String) -> PluginLoadError {
    PluginLoadError::BadTable {
        plugin: config.name.clone(),
        path: config.path.clone(),
        problem,
    }
}

/// The `[plugin.config]` table as JSON; TOML dates become strings.
fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Exposed for the unit tests of the file rule.
#[cfg(test)]
pub(super) fn check_path(path: &std::path::Path, euid: u32) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    check_file(&meta, euid)
}
