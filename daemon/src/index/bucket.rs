//! The data dir and its time buckets: one tantivy index per bucket, rolled by age or
//! size, dropped whole by retention.
//!
//! ```text
//! <data_dir>/LOOKOUT-DATA          marker: "lookout-data <format version>"
//! <data_dir>/index/b-0000000001/   a bucket (tantivy index), oldest first by id
//! <data_dir>/index/tmp-…           a bucket being created (removed at startup)
//! <data_dir>/index/b-…​.quarantined-<time>   a damaged bucket set aside, never
//!                                   deleted nor read again (see [`super::integrity`])
//! ```
//!
//! Every bucket's commit payload is a [`Payload`]: the collector positions and next
//! `seq` at that commit, and the bucket's time span. The newest bucket's payload is
//! where the daemon resumes. A new bucket is created under `tmp-`, committed with the
//! payload it inherits, then renamed into place, so the newest bucket always has one.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use tantivy::{IndexReader, ReloadPolicy};

use super::analyzer;
use super::integrity::{self, EnvFault};
use super::schema::Fields;
use super::IndexError;
use crate::collect::Positions;

/// Name of the marker file that makes a directory ours.
pub const MARKER: &str = "LOOKOUT-DATA";
/// Bumped when the on-disk layout or schema changes incompatibly. A data dir of
/// another version is refused with a message saying so, and never modified.
///
/// - 1: first release.
/// - 2: `ts` no longer indexed, `ts`/`seq` no longer stored, raw fields without
///   fast columns (ingest about a third cheaper).
/// - 3: `workload` (indexed) and `lines` (stored) added at the end.
/// - 4: `fields` (extracted fields' terms, indexed) added at the end.
/// - 5: `pattern` (the pattern id: indexed, fast, stored) added at the end.
pub const FORMAT_VERSION: u32 = 5;
/// Older formats whose data dirs this lookoutd opens (their buckets age out by
/// retention): an upgrade never strands a node's history.
pub const READABLE_FORMATS: &[u32] = &[1, 2, 3, 4];

/// Stored messages are compressed with zstd (level 3) in 64 KiB blocks rather than
/// tantivy's default LZ4 in 16 KiB: on the storage bench's corpus (fresh numbers and
/// ids on every line) the data dir shrank by a fifth (1.19 → 0.97 bytes per raw
/// byte at 100k rows) with search latencies unchanged within noise; a top-100 page
/// decompresses at most 100 blocks. Older buckets keep the compressor they were
/// written with (it is recorded in each index's meta).
fn store_settings() -> tantivy::IndexSettings {
    use tantivy::store::{Compressor, ZstdCompressor};
    tantivy::IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(3),
        }),
        docstore_blocksize: 64 * 1024,
        ..Default::default()
    }
}

/// What each commit records, as JSON in the tantivy commit payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Payload {
    pub version: u32,
    pub positions: Positions,
    pub next_seq: u64,
    /// Entry time span of the bucket's committed docs (nanoseconds); absent when empty.
    #[serde(default)]
    pub min_ts: Option<i64>,
    #[serde(default)]
    pub max_ts: Option<i64>,
    /// Wall-clock creation time of the bucket, ms since the epoch (age-based rolling).
    #[serde(default)]
    pub created_ms: i64,
}

/// Mutable facts about a bucket.
#[derive(Debug, Clone, Default)]
pub struct BucketMeta {
    pub min_ts: Option<i64>,
    pub max_ts: Option<i64>,
    pub bytes: u64,
    pub created_ms: i64,
}

impl BucketMeta {
    /// Whether the bucket may hold entries in `[from, until)`.
    pub fn overlaps(&self, from: i64, until: i64) -> bool {
        match (self.min_ts, self.max_ts) {
            (Some(lo), Some(hi)) => hi >= from && lo < until,
            _ => false,
        }
    }
}

/// One time bucket: a tantivy index with its reader.
pub struct Bucket {
    pub id: u64,
    pub path: PathBuf,
    pub index: tantivy::Index,
    pub reader: IndexReader,
    pub meta: RwLock<BucketMeta>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("id", &self.id)
            .field("path", &self.path)
            .finish()
    }
}

pub fn bucket_name(id: u64) -> String {
    format!("b-{id:010}")
}

/// The directory holding the buckets.
pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index")
}

/// Checks (or initialises) the data dir; refuses anything that is not ours, and a
/// dir it cannot write to, saying why (read-only, full, permission) so that nobody
/// takes a healthy bucket for a corrupt one.
pub fn check_data_dir(data_dir: &Path) -> Result<(), IndexError> {
    check_ours(data_dir).map_err(|e| unwritable(data_dir, e))?;
    probe_writable(data_dir)
}

/// An I/O error of the environment's as [`IndexError::Unwritable`].
fn unwritable(data_dir: &Path, e: IndexError) -> IndexError {
    match &e {
        IndexError::Io { source, .. } => match EnvFault::of_io(source) {
            Some(f) => unwritable_msg(data_dir, f, source),
            None => e,
        },
        _ => e,
    }
}

fn unwritable_msg(data_dir: &Path, f: EnvFault, e: impl std::fmt::Display) -> IndexError {
    IndexError::Unwritable(format!(
        "data dir {} cannot be written: {} ({e}). lookoutd keeps its index there; \
         the stored data was not touched and is not damaged (make the dir writable, \
         or point --data-dir at one that is)",
        data_dir.display(),
        f.describe()
    ))
}

/// Creates and removes a file in the index dir: a read-only or unwritable dir is
/// found here, by its errno, before tantivy turns it into an opaque open error.
fn probe_writable(data_dir: &Path) -> Result<(), IndexError> {
    let probe = index_dir(data_dir).join(".lookout-write-probe");
    let res = fs::create_dir_all(index_dir(data_dir))
        .and_then(|()| fs::write(&probe, b"probe"))
        .and_then(|()| fs::remove_file(&probe));
    match res {
        Ok(()) => Ok(()),
        Err(e) => Err(match EnvFault::of_io(&e) {
            Some(f) => unwritable_msg(data_dir, f, &e),
            None => IndexError::Io {
                path: probe,
                source: e,
            },
        }),
    }
}

/// Whether writing a file into `dir` fails because of the environment
/// (read-only, full, out of fds). Asked when tantivy reports only that its
/// worker thread died ("An index writer was killed"): the errno that killed it
/// is not in that text.
pub fn env_fault_at(dir: &Path) -> Option<EnvFault> {
    let probe = dir.join(".lookout-write-probe");
    let res = fs::write(&probe, b"probe").and_then(|()| fs::remove_file(&probe));
    let e = res.err()?;
    // A full disk may leave the file created and empty.
    let _ = fs::remove_file(&probe);
    EnvFault::of_io(&e)
}

fn check_ours(data_dir: &Path) -> Result<(), IndexError> {
    let io = |e: std::io::Error| IndexError::Io {
        path: data_dir.to_path_buf(),
        source: e,
    };
    fs::create_dir_all(data_dir).map_err(io)?;
    let marker = data_dir.join(MARKER);
    match fs::read_to_string(&marker) {
        Ok(s) => {
            let version = s
                .trim()
                .strip_prefix("lookout-data ")
                .and_then(|v| v.parse::<u32>().ok());
            match version {
                Some(FORMAT_VERSION) => Ok(()),
                Some(v) if READABLE_FORMATS.contains(&v) => {
                    // Old buckets are read as they are (see `Fields::readable`); the
                    // marker moves on so that an older lookoutd, which cannot read the
                    // buckets this one creates, refuses the dir instead of failing later.
                    crate::durable::write_atomic(
                        &marker,
                        format!("lookout-data {FORMAT_VERSION}\n").as_bytes(),
                    )
                    .map_err(io)?;
                    tracing::info!(
                        from = v,
                        to = FORMAT_VERSION,
                        "data dir format upgraded; old buckets stay readable"
                    );
                    Ok(())
                }
                Some(v) => Err(IndexError::Foreign(format!(
                    "{} holds Lookout data of format {v}, this lookoutd reads format \
                     {FORMAT_VERSION}; nothing was changed",
                    data_dir.display()
                ))),
                None => Err(IndexError::Foreign(format!(
                    "{} has an unreadable {MARKER} marker ({:?}); nothing was changed",
                    data_dir.display(),
                    s.chars().take(40).collect::<String>()
                ))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let has_index = index_dir(data_dir).exists();
            let mut entries = fs::read_dir(data_dir).map_err(io)?;
            if has_index || entries.next().is_some() {
                return Err(IndexError::Foreign(format!(
                    "{} is not empty and has no {MARKER} marker: it does not look like a \
                     Lookout data dir, so lookoutd refuses to use it (nothing was changed). \
                     Point --data-dir at an empty or Lookout directory.",
                    data_dir.display()
                )));
            }
            crate::durable::write_atomic(
                &marker,
                format!("lookout-data {FORMAT_VERSION}\n").as_bytes(),
            )
            .map_err(io)?;
            fs::create_dir_all(index_dir(data_dir)).map_err(io)?;
            Ok(())
        }
        Err(e) => Err(io(e)),
    }
}

/// Lists bucket ids (sorted) after removing half-created `tmp-` buckets.
pub fn list_buckets(data_dir: &Path) -> Result<Vec<u64>, IndexError> {
    let dir = index_dir(data_dir);
    let io = |e: std::io::Error| IndexError::Io {
        path: dir.clone(),
        source: e,
    };
    fs::create_dir_all(&dir).map_err(io)?;
    let mut ids = Vec::new();
    for ent in fs::read_dir(&dir).map_err(io)? {
        let ent = ent.map_err(io)?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if integrity::is_quarantined(&name) || name.starts_with('.') {
            // Set aside after damage (never read again, never deleted), or our probe.
            continue;
        }
        if name.starts_with("tmp-") {
            // Our own bucket that never finished being created: it holds nothing.
            tracing::info!(path = %ent.path().display(), "removing half-created bucket");
            fs::remove_dir_all(ent.path()).map_err(io)?;
            continue;
        }
        match name.strip_prefix("b-").and_then(|s| s.parse::<u64>().ok()) {
            Some(id) => ids.push(id),
            None => {
                return Err(IndexError::Foreign(format!(
                    "unexpected entry {} in the index dir; nothing was changed",
                    ent.path().display()
                )))
            }
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Registers our tokenizer on an index.
fn register(index: &tantivy::Index) {
    index
        .tokenizers()
        .register(analyzer::TOKENIZER, analyzer::analyzer());
}

/// An error opening a bucket: [`IndexError::Unwritable`] when the environment is
/// at fault (the bucket is fine), else [`IndexError::Corrupt`] (it gets quarantined).
fn corrupt(path: &Path, e: impl std::fmt::Display) -> IndexError {
    let text = format!("{e}");
    if let Some(f) = EnvFault::in_text(&text) {
        return IndexError::Unwritable(format!(
            "index bucket {} cannot be opened: {}: {text}. This is not damage: the \
             bucket was left as it is",
            path.display(),
            f.describe()
        ));
    }
    IndexError::Corrupt(format!(
        "index bucket {} cannot be opened: {text}",
        path.display()
    ))
}

/// Total size of the files under `path`.
pub fn dir_size(path: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(path) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

impl Bucket {
    /// Opens an existing bucket and reads its last payload.
    pub fn open(
        data_dir: &Path,
        id: u64,
        fields: &Fields,
    ) -> Result<(Bucket, Payload), IndexError> {
        let path = index_dir(data_dir).join(bucket_name(id));
        let index = tantivy::Index::open_in_dir(&path).map_err(|e| corrupt(&path, e))?;
        if index.schema() != fields.schema {
            // An older format's bucket stays readable (and appendable) while it ages
            // out; anything else is refused untouched.
            if let Err(why) = fields.readable(&index.schema()) {
                // Not damage: another lookoutd's bucket. Refused, never quarantined.
                return Err(IndexError::Foreign(format!(
                    "index bucket {} has a schema this lookoutd cannot read ({why}); \
                     nothing was changed",
                    path.display()
                )));
            }
        }
        register(&index);
        let metas = index.load_metas().map_err(|e| corrupt(&path, e))?;
        let payload: Payload = match &metas.payload {
            Some(p) => serde_json::from_str(p)
                .map_err(|e| corrupt(&path, format!("bad commit payload: {e}")))?,
            None => return Err(corrupt(&path, "no commit payload")),
        };
        let bucket = Bucket::with_index(id, path, index, &payload)?;
        Ok((bucket, payload))
    }

    fn with_index(
        id: u64,
        path: PathBuf,
        index: tantivy::Index,
        payload: &Payload,
    ) -> Result<Bucket, IndexError> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| corrupt(&path, e))?;
        let bytes = dir_size(&path);
        Ok(Bucket {
            id,
            meta: RwLock::new(BucketMeta {
                min_ts: payload.min_ts,
                max_ts: payload.max_ts,
                bytes,
                created_ms: payload.created_ms,
            }),
            path,
            index,
            reader,
        })
    }

    /// Creates bucket `id` committed with `payload`: built under `tmp-`, then renamed.
    pub fn create(
        data_dir: &Path,
        id: u64,
        fields: &Fields,
        payload: &Payload,
    ) -> Result<Bucket, IndexError> {
        let dir = index_dir(data_dir);
        let tmp = dir.join(format!("tmp-{id:010}"));
        let path = dir.join(bucket_name(id));
        let io = |p: &Path, e: std::io::Error| IndexError::Io {
            path: p.to_path_buf(),
            source: e,
        };
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        {
            let index = tantivy::Index::builder()
                .schema(fields.schema.clone())
                .settings(store_settings())
                .create_in_dir(&tmp)
                .map_err(|e| IndexError::Tantivy(e.to_string()))?;
            register(&index);
            let mut w: tantivy::IndexWriter = index
                .writer_with_num_threads(1, 15_000_000)
                .map_err(|e| IndexError::Tantivy(e.to_string()))?;
            let json =
                serde_json::to_string(payload).map_err(|e| IndexError::Tantivy(e.to_string()))?;
            let mut pc = w
                .prepare_commit()
                .map_err(|e| IndexError::Tantivy(e.to_string()))?;
            pc.set_payload(&json);
            pc.commit()
                .map_err(|e| IndexError::Tantivy(e.to_string()))?;
            w.wait_merging_threads()
                .map_err(|e| IndexError::Tantivy(e.to_string()))?;
        }
        crate::durable::rename_durable(&tmp, &path).map_err(|e| io(&path, e))?;
        let index = tantivy::Index::open_in_dir(&path).map_err(|e| corrupt(&path, e))?;
        register(&index);
        Bucket::with_index(id, path, index, payload)
    }
}
