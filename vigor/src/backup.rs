//! `vigor backup` and `vigor restore`: the embedded stores of an all-in-one Vigor,
//! copied while it serves and brought back into a new data directory.
//!
//! A backup copies each service's SQLite database with `VACUUM INTO`: SQLite writes
//! a transactionally consistent copy of the database as one read transaction sees
//! it, while the serving process goes on writing (WAL mode lets readers and the
//! writer run side by side). A file copy could catch a database between a write to
//! its main file and its WAL, and would not be a database at all. Each copy begins
//! after the command started, so it holds every write acknowledged before that. The
//! token signing keys live in the auth database, so they come back with it and
//! tokens issued before the backup still verify after a restore.
//!
//! The manifest (`manifest.json`: each file's service, size and SHA-256) is written
//! last, by a rename: a directory without it is a backup that did not finish.
//! `restore` checks every file against it before it writes anything, into a data
//! directory that must be new or empty, so a damaged or partial backup is refused
//! with the file and the reason, never half restored.
//!
//! Distributed deployments keep their data in PostgreSQL, Redis and ScyllaDB, which
//! have their own backups (README, *Operations*); `backup` refuses a configuration
//! whose databases are not embedded rather than copying only part of it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use vigor_common::config::{Config, ServiceName};

/// The name of the manifest inside a backup directory.
const MANIFEST: &str = "manifest.json";
/// The manifest format this version writes and reads.
const FORMAT: u32 = 1;

/// What a backup holds: written last, checked first.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    vigor_version: String,
    created_at: chrono::DateTime<chrono::Utc>,
    files: Vec<FileEntry>,
}

/// One database file of a backup.
#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    /// The service whose database it is.
    service: String,
    /// Its name in the backup and in the restored data directory.
    name: String,
    bytes: u64,
    /// Lowercase hex.
    sha256: String,
}

/// Why a backup or a restore was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{key} is {kind}, not an embedded SQLite database: `vigor backup` copies the stores of an all-in-one Vigor; back {kind} up with its own tools (README, Operations)")]
    NotEmbedded { key: String, kind: &'static str },
    #[error(
        "no {service} database at {path}: is this the data directory Vigor serves (--data-dir)?"
    )]
    MissingDatabase { service: String, path: PathBuf },
    #[error("{0} exists and is not empty: a backup or restore goes into a new directory")]
    NotEmpty(PathBuf),
    #[error("{0} has no manifest.json: it is not a complete Vigor backup (a backup writes its manifest last)")]
    Partial(PathBuf),
    #[error("{path}: unreadable manifest: {reason}")]
    BadManifest { path: PathBuf, reason: String },
    #[error("{name} is missing from the backup: it is incomplete")]
    MissingFile { name: String },
    #[error("{name} is damaged: {reason}")]
    Damaged { name: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("copying the {service} database: {source}")]
    Sqlite {
        service: String,
        #[source]
        source: sqlx::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The services whose databases an all-in-one Vigor keeps.
fn services() -> impl Iterator<Item = ServiceName> {
    ServiceName::ALL
        .into_iter()
        .filter(|service| *service != ServiceName::Leaderboards)
}

/// Copies every embedded database of `config` into the new directory `to`, then
/// writes its manifest.
pub async fn backup(config: &Config, to: &Path) -> Result<(), BackupError> {
    // Every database embedded, or nothing copied.
    if let Some(service) = services().find(|s| !config.database_url(*s).starts_with("sqlite:")) {
        return Err(BackupError::NotEmbedded {
            key: format!("{service}.database_url"),
            kind: "PostgreSQL",
        });
    }
    let mut sources = Vec::new();
    for service in services() {
        let url = config.database_url(service);
        let options =
            SqliteConnectOptions::from_str(&url).map_err(|source| BackupError::Sqlite {
                service: service.to_string(),
                source,
            })?;
        let path = options.get_filename().to_owned();
        if !path.is_file() {
            return Err(BackupError::MissingDatabase {
                service: service.to_string(),
                path,
            });
        }
        sources.push((service, path));
    }
    if config.social.messages == vigor_common::config::social::MessageBackend::Cql {
        eprintln!(
            "vigor: warning: chat messages are in the CQL keyspace (social.messages = cql), \
             which this backup does not hold; snapshot it with nodetool"
        );
    }
    new_directory(to)?;

    let mut files = Vec::new();
    for (service, source) in sources {
        let name = format!("{service}.db");
        let target = to.join(&name);
        copy_database(&service.to_string(), &source, &target).await?;
        let (bytes, sha256) = digest(&target)?;
        files.push(FileEntry {
            service: service.to_string(),
            name,
            bytes,
            sha256,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        vigor_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: chrono::Utc::now(),
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::BadManifest {
        path: to.join(MANIFEST),
        reason: e.to_string(),
    })?;
    write_durably(&to.join(MANIFEST), &text)?;
    Ok(())
}

/// `VACUUM INTO` from a read-only connection: a consistent copy while others write.
async fn copy_database(service: &str, source: &Path, target: &Path) -> Result<(), BackupError> {
    let sqlite = |source| BackupError::Sqlite {
        service: service.to_owned(),
        source,
    };
    let mut connection = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        // A checkpoint of the serving process may hold the lock for a moment.
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await
        .map_err(sqlite)?;
    let target_text = target.to_str().ok_or_else(|| BackupError::Io {
        path: target.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a UTF-8 path"),
    })?;
    sqlx::query("VACUUM INTO ?")
        .bind(target_text)
        .execute(&mut connection)
        .await
        .map_err(sqlite)?;
    connection.close().await.map_err(sqlite)?;
    // The copy is complete on disk before the manifest names it.
    std::fs::File::open(target)
        .and_then(|file| file.sync_all())
        .map_err(io(target))
}

/// Restores the backup in `from` into the new data directory `data_dir`, after
/// checking every file against the manifest.
pub fn restore(from: &Path, data_dir: &Path) -> Result<(), BackupError> {
    let manifest = read_manifest(from)?;
    for file in &manifest.files {
        verify(&from.join(&file.name), file)?;
    }
    new_directory(data_dir)?;
    for file in &manifest.files {
        let partial = data_dir.join(format!("{}.partial", file.name));
        std::fs::copy(from.join(&file.name), &partial).map_err(io(&partial))?;
        // The copy is checked too: a failing disk must not pass as a restore.
        verify(&partial, file)?;
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io(&partial))?;
        let target = data_dir.join(&file.name);
        std::fs::rename(&partial, &target).map_err(io(&target))?;
    }
    Ok(())
}

fn read_manifest(from: &Path) -> Result<Manifest, BackupError> {
    let path = from.join(MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::Partial(from.to_owned()))
        }
        Err(e) => return Err(io(&path)(e)),
    };
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| BackupError::BadManifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if manifest.format != FORMAT {
        return Err(BackupError::BadManifest {
            path,
            reason: format!(
                "format {} (this vigor reads format {FORMAT})",
                manifest.format
            ),
        });
    }
    let expected: Vec<String> = services().map(|s| format!("{s}.db")).collect();
    let mut named: Vec<String> = manifest.files.iter().map(|f| f.name.clone()).collect();
    named.sort();
    let mut wanted = expected.clone();
    wanted.sort();
    if named != wanted {
        return Err(BackupError::BadManifest {
            path,
            reason: format!("it lists {named:?}, not the databases {expected:?}"),
        });
    }
    Ok(manifest)
}

/// Whether `path` is the file the manifest describes.
fn verify(path: &Path, file: &FileEntry) -> Result<(), BackupError> {
    if !path.is_file() {
        return Err(BackupError::MissingFile {
            name: file.name.clone(),
        });
    }
    let (bytes, sha256) = digest(path)?;
    if bytes != file.bytes {
        return Err(BackupError::Damaged {
            name: file.name.clone(),
            reason: format!("{bytes} bytes, the manifest says {}", file.bytes),
        });
    }
    if sha256 != file.sha256 {
        return Err(BackupError::Damaged {
            name: file.name.clone(),
            reason: format!("SHA-256 {sha256}, the manifest says {}", file.sha256),
        });
    }
    Ok(())
}

/// Size and SHA-256 (lowercase hex) of a file, read in blocks.
fn digest(path: &Path) -> Result<(u64, String), BackupError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io(path))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buffer[..n]);
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok((bytes, hex))
}

/// Makes `dir` (and its parents), refusing one that holds anything.
fn new_directory(dir: &Path) -> Result<(), BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::NotEmpty(dir.to_owned()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io(dir))
        }
        Err(e) => Err(io(dir)(e)),
    }
}

/// Writes `path` through a temporary file and a rename, synced.
fn write_durably(path: &Path, contents: &[u8]) -> Result<(), BackupError> {
    use std::io::Write;
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial).map_err(io(&partial))?;
    file.write_all(contents).map_err(io(&partial))?;
    file.sync_all().map_err(io(&partial))?;
    std::fs::rename(&partial, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_naming_other_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = serde_json::json!({
            "format": 1, "vigor_version": "0", "created_at": "2026-12-06T00:00:00Z",
            "files": [{"service": "auth", "name": "auth.db", "bytes": 0, "sha256": ""}]
        });
        std::fs::write(dir.path().join(MANIFEST), manifest.to_string()).unwrap();
        let error = read_manifest(dir.path()).unwrap_err();
        assert!(matches!(error, BackupError::BadManifest { .. }), "{error}");
    }

    #[test]
    fn a_later_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = serde_json::json!({
            "format": 2, "vigor_version": "9", "created_at": "2026-12-06T00:00:00Z", "files": []
        });
        std::fs::write(dir.path().join(MANIFEST), manifest.to_string()).unwrap();
        let error = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(error.contains("format 2"), "{error}");
    }
}
