//! [`FileStore`]: persisted values in one file per node, written atomically.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::{info, warn};

use super::{PersistedStore, PersistedValues, StoreError};
use crate::wire::Encoding;

/// Identifies a store file, then its format version.
const MAGIC: &[u8; 8] = b"AROSTORE";
const VERSION: u32 = 1;
/// Magic, version, checksum, payload length.
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// A persisted store in one file. Every save rewrites the file atomically: the new content
/// goes to a temporary file beside it, which is flushed to disk (`fsync`) and renamed over the
/// old one, so a crash mid-write leaves the previous values intact. A checksum catches files
/// that were torn or damaged some other way: such a file is a [`StoreError::Corrupt`] (logged
/// by the node, whose replicas then start from their defaults), is kept as `<path>.corrupt`,
/// and is replaced at the next save. The file is owner-only (mode 0600), and the temporary
/// file has a unique name created exclusively, so a symlink planted beside the store cannot
/// redirect a write.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    /// The file's content once read; `None` until the first load or save.
    cache: Mutex<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    sources: BTreeMap<String, PersistedValues>,
    /// Set when the file on disk could not be read; reported by every load.
    read_error: Option<String>,
}

impl FileStore {
    /// A store in the file at `path` (created on the first save; its directory must exist).
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore {
            path: path.into(),
            cache: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_cache<R>(&self, f: impl FnOnce(&mut Cached) -> R) -> R {
        let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let cached = guard.get_or_insert_with(|| self.read_file());
        f(cached)
    }

    fn read_file(&self) -> Cached {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Cached {
                    sources: BTreeMap::new(),
                    read_error: None,
                };
            }
            Err(e) => {
                return Cached {
                    sources: BTreeMap::new(),
                    read_error: Some(e.to_string()),
                }
            }
        };
        match decode_file(&bytes) {
            Ok(sources) => Cached {
                sources,
                read_error: None,
            },
            Err(reason) => {
                let backup = self.backup_path();
                match write_atomically(&backup, &bytes) {
                    Ok(()) => {
                        info!(path = %backup.display(), "kept a copy of the corrupt store file")
                    }
                    Err(error) => {
                        warn!(path = %backup.display(), %error, "cannot keep a copy of the corrupt store file")
                    }
                }
                Cached {
                    sources: BTreeMap::new(),
                    read_error: Some(reason),
                }
            }
        }
    }

    fn write_file(&self, sources: &BTreeMap<String, PersistedValues>) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        let bytes = encode_file(sources).map_err(|reason| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        })?;
        write_atomically(&self.path, &bytes).map_err(io)
    }

    /// `<path>.corrupt`: the whole file name with `.corrupt` added, so that stores whose
    /// names differ only in their extension keep separate copies.
    fn backup_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".corrupt");
        PathBuf::from(name)
    }
}

/// Replaces `path` with `bytes` atomically: written to a temporary file with a unique name
/// in the same directory (created exclusively, owner-only, never through a symlink), flushed
/// to disk, and renamed over `path` (a rename replaces a symlink at `path`, it does not
/// follow it).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

impl PersistedStore for FileStore {
    fn load(&self, source: &str) -> Result<Option<PersistedValues>, StoreError> {
        self.with_cache(|cached| match &cached.read_error {
            Some(reason) => Err(StoreError::Corrupt {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(cached.sources.get(source).cloned()),
        })
    }

    fn save(&self, source: &str, values: &PersistedValues) -> Result<(), StoreError> {
        let sources = self.with_cache(|cached| {
            if let Some(reason) = cached.read_error.take() {
                warn!(path = %self.path.display(), %reason, "replacing a corrupt store file");
            }
            cached.sources.insert(source.to_owned(), values.clone());
            cached.sources.clone()
        });
        self.write_file(&sources)
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    crate::wire::fnv1a(bytes)
}

fn encode_file(sources: &BTreeMap<String, PersistedValues>) -> Result<Vec<u8>, String> {
    let payload = Encoding::Bincode
        .encode(sources)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&checksum(&payload).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

fn decode_file(bytes: &[u8]) -> Result<BTreeMap<String, PersistedValues>, String> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("not a store file (bad header)".into());
    }
    let word = |range: std::ops::Range<usize>| -> [u8; 8] {
        let mut w = [0u8; 8];
        w[..range.len()].copy_from_slice(&bytes[range]);
        w
    };
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(format!(
            "format version {version}, this build reads {VERSION}"
        ));
    }
    let sum = u64::from_le_bytes(word(12..20));
    let len = u64::from_le_bytes(word(20..28));
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(format!(
            "{} payload bytes, the header says {len}: the file is torn",
            payload.len()
        ));
    }
    if checksum(payload) != sum {
        return Err("checksum mismatch".into());
    }
    Encoding::Bincode.decode(payload).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: u8, signature: u64) -> PersistedValues {
        PersistedValues {
            api: "Gps".into(),
            signature,
            encoding: "bincode2".into(),
            values: vec![(0, vec![n, n])],
        }
    }

    #[test]
    fn saves_and_loads_across_instances() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.store");
        let store = FileStore::new(&path);
        assert_eq!(
            store.load("a").unwrap(),
            None,
            "a missing file is an empty store"
        );
        store.save("a", &values(1, 9)).unwrap();
        store.save("b", &values(2, 9)).unwrap();
        let again = FileStore::new(&path);
        assert_eq!(again.load("a").unwrap(), Some(values(1, 9)));
        assert_eq!(again.load("b").unwrap(), Some(values(2, 9)));
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec![std::ffi::OsString::from("node.store")],
            "no temporary file left"
        );
    }

    #[test]
    fn a_crash_mid_write_leaves_the_previous_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.store");
        FileStore::new(&path).save("a", &values(1, 9)).unwrap();
        // A writer that died before its rename left only a partial temporary file.
        fs::write(path.with_extension("tmp999"), b"AROSTORE\x01\x00").unwrap();
        assert_eq!(FileStore::new(&path).load("a").unwrap(), Some(values(1, 9)));
    }

    #[test]
    fn torn_garbage_and_bit_flipped_files_are_corrupt_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.store");
        FileStore::new(&path).save("a", &values(1, 9)).unwrap();
        let good = fs::read(&path).unwrap();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("torn", good[..good.len() - 3].to_vec()),
            ("flipped", flipped),
            ("garbage", b"hello, world".to_vec()),
            ("empty", Vec::new()),
        ];
        for (what, bytes) in cases {
            fs::write(&path, &bytes).unwrap();
            match FileStore::new(&path).load("a") {
                Err(StoreError::Corrupt { .. }) => {}
                other => panic!("{what}: expected a corrupt-file error, got {other:?}"),
            }
            assert_eq!(
                fs::read(dir.path().join("node.store.corrupt")).unwrap(),
                bytes,
                "{what}: a copy is kept"
            );
        }
    }

    #[test]
    fn stores_that_differ_by_extension_keep_separate_corrupt_copies() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("node.a", b"first".to_vec()),
            ("node.b", b"second".to_vec()),
        ] {
            fs::write(dir.path().join(name), &bytes).unwrap();
            assert!(FileStore::new(dir.path().join(name)).load("x").is_err());
            let backup = dir.path().join(format!("{name}.corrupt"));
            assert_eq!(fs::read(backup).unwrap(), bytes, "{name}");
        }
    }

    /// The temporary name used to be `<path>.tmp<pid>`: a symlink planted there made the
    /// next save overwrite whatever it pointed to.
    #[test]
    #[cfg(unix)]
    fn a_symlink_planted_beside_the_store_redirects_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.store");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        for planted in [
            path.with_extension(format!("tmp{}", std::process::id())),
            dir.path().join("node.store.corrupt"),
        ] {
            std::os::unix::fs::symlink(&victim, planted).unwrap();
        }
        fs::write(&path, b"garbage").unwrap(); // corrupt: a backup is written too
        let store = FileStore::new(&path);
        assert!(store.load("a").is_err());
        store.save("a", &values(1, 9)).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(FileStore::new(&path).load("a").unwrap(), Some(values(1, 9)));
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the store is owner-only");
    }

    /// A file with a valid header and checksum whose payload claims a 2^62-byte key: the
    /// checksum is no defence (anyone can compute it), the bounded decode is.
    #[test]
    fn a_well_formed_file_that_claims_more_than_it_holds_is_corrupt_not_an_abort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.store");
        let mut payload = vec![1u8, 0xfd]; // one entry; its key's length follows
        payload.extend_from_slice(&(1u64 << 62).to_le_bytes());
        payload.extend_from_slice(b"Gps");
        let mut file = Vec::new();
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&VERSION.to_le_bytes());
        file.extend_from_slice(&checksum(&payload).to_le_bytes());
        file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        file.extend_from_slice(&payload);
        std::fs::write(&path, file).unwrap();
        let err = FileStore::new(&path).load("Gps").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_save_replaces_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.store");
        fs::write(&path, b"junk").unwrap();
        let store = FileStore::new(&path);
        assert!(store.load("a").is_err());
        store.save("a", &values(3, 9)).unwrap();
        assert_eq!(FileStore::new(&path).load("a").unwrap(), Some(values(3, 9)));
    }

    #[test]
    fn an_unwritable_location_is_an_io_error() {
        let store = FileStore::new("/nonexistent-dir/for/sure/node.store");
        assert!(matches!(
            store.save("a", &values(1, 1)),
            Err(StoreError::Io { .. })
        ));
    }
}
