//! The three collections and their payload indexes, created idempotently at connect, and
//! checked when they already exist (a collection of another dimension is an error, never
//! silently reused).
//!
//! - `<prefix>_relations`: one point per relation (its embedding), payload = scope + times.
//! - `<prefix>_facts`: one point per fact (its embedding), payload = scope + text + metadata.
//! - `<prefix>_fact_history`: one point per fact event. Qdrant points need a vector, so each
//!   carries the constant 1-d vector `[1.0]`; HNSW is off (`m = 0`), so nothing is built for
//!   it. A payload-only collection (`vectors: {}`) would save 4 bytes a point, but inserting
//!   into one has had client/server quirks we cannot test here; the dummy vector works on
//!   every Qdrant version.
//!
//! Relations and facts use Qdrant's multitenancy layout: `scope_key` is a tenant keyword
//! index (`is_tenant`), the global HNSW graph is off (`m = 0`) and each scope gets its own
//! graph (`payload_m = 16`), because every search is filtered by exactly one scope.

use qdrant_client::Qdrant;
use qdrant_client::qdrant::payload_index_params::IndexParams;
use qdrant_client::qdrant::vectors_config::Config;
use qdrant_client::qdrant::{
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeleteFieldIndexCollectionBuilder,
    Distance, FieldType, HnswConfigDiffBuilder, IntegerIndexParamsBuilder,
    KeywordIndexParamsBuilder, PayloadSchemaType, TextIndexParamsBuilder, TokenizerType,
    VectorParamsBuilder,
};

use crate::error::{QdrantStoreError, Result};
use crate::payload::{
    AGENT_ID, CREATED_AT, EPISODE, FACT_ID, INVALIDATED_AT, RECORDED_AT, RETRACTED_AT, RUN_ID,
    SCOPE_KEY, TEXT, USER_ID, VALID_FROM, VALID_TO,
};

/// Length of the constant vector of fact-history points.
pub(crate) const HISTORY_DIMENSION: usize = 1;

/// The names of the three collections for one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Collections {
    pub relations: String,
    pub facts: String,
    pub history: String,
}

impl Collections {
    pub(crate) fn new(prefix: &str) -> Self {
        Collections {
            relations: format!("{prefix}_relations"),
            facts: format!("{prefix}_facts"),
            history: format!("{prefix}_fact_history"),
        }
    }
}

/// A prefix Qdrant accepts in a collection name and a URL path, without quoting.
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 64
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(QdrantStoreError::Settings(format!(
            "collection prefix {prefix:?} must be 1 to 64 ASCII letters, digits, `_` or `-`"
        )))
    }
}

/// One payload index.
#[derive(Clone, Debug)]
struct Index {
    field: &'static str,
    kind: IndexKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IndexKind {
    /// The scope: keyword, tenant (co-locates a scope's points, per-scope HNSW graphs).
    Tenant,
    Keyword,
    /// Integer microseconds, range queries and ordering only.
    Micros,
    /// Word tokenizer, lowercased, words matched by their English (Snowball) stem, as the
    /// embedded store's fact index matches them by their Porter stem.
    Text,
}

impl IndexKind {
    fn field_type(self) -> FieldType {
        match self {
            IndexKind::Tenant | IndexKind::Keyword => FieldType::Keyword,
            IndexKind::Micros => FieldType::Integer,
            IndexKind::Text => FieldType::Text,
        }
    }

    fn schema_type(self) -> PayloadSchemaType {
        match self {
            IndexKind::Tenant | IndexKind::Keyword => PayloadSchemaType::Keyword,
            IndexKind::Micros => PayloadSchemaType::Integer,
            IndexKind::Text => PayloadSchemaType::Text,
        }
    }

    /// Only the tenant index gets per-value HNSW graphs; the others only filter.
    fn params(self) -> IndexParams {
        match self {
            IndexKind::Tenant => KeywordIndexParamsBuilder::default().is_tenant(true).into(),
            IndexKind::Keyword => KeywordIndexParamsBuilder::default()
                .enable_hnsw(false)
                .into(),
            IndexKind::Micros => IntegerIndexParamsBuilder::new(false, true)
                .enable_hnsw(false)
                .into(),
            IndexKind::Text => TextIndexParamsBuilder::new(TokenizerType::Word)
                .lowercase(true)
                .snowball_stemmer(STEMMER_LANGUAGE.to_owned())
                .enable_hnsw(false)
                .into(),
        }
    }

    /// Whether an existing index of the right type was built with this kind's parameters
    /// where they change answers: a text index made before stemming matches words only as
    /// written, and is rebuilt.
    fn is_current(self, info: &qdrant_client::qdrant::PayloadSchemaInfo) -> bool {
        match self {
            IndexKind::Text => matches!(
                info.params.as_ref().and_then(|p| p.index_params.as_ref()),
                Some(IndexParams::TextIndexParams(p)) if p.stemmer.is_some()
            ),
            IndexKind::Tenant | IndexKind::Keyword | IndexKind::Micros => true,
        }
    }
}

/// The language of the text index's stemmer.
const STEMMER_LANGUAGE: &str = "english";

const fn index(field: &'static str, kind: IndexKind) -> Index {
    Index { field, kind }
}

const SCOPE_INDEXES: [Index; 4] = [
    index(SCOPE_KEY, IndexKind::Tenant),
    index(USER_ID, IndexKind::Keyword),
    index(AGENT_ID, IndexKind::Keyword),
    index(RUN_ID, IndexKind::Keyword),
];

/// What one collection must look like.
#[derive(Clone, Debug)]
struct Spec {
    name: String,
    dimension: usize,
    /// Per-scope HNSW graphs (relations, facts) or none at all (history).
    per_scope_graphs: bool,
    indexes: Vec<Index>,
}

fn specs(names: &Collections, dimension: usize) -> [Spec; 3] {
    let with_scope = |rest: &[Index]| SCOPE_INDEXES.iter().chain(rest).cloned().collect();
    [
        Spec {
            name: names.relations.clone(),
            dimension,
            per_scope_graphs: true,
            indexes: with_scope(&[
                index(VALID_FROM.indexed, IndexKind::Micros),
                index(VALID_TO.indexed, IndexKind::Micros),
                index(RECORDED_AT.indexed, IndexKind::Micros),
                index(INVALIDATED_AT.indexed, IndexKind::Micros),
                index(RETRACTED_AT.indexed, IndexKind::Micros),
            ]),
        },
        Spec {
            name: names.facts.clone(),
            dimension,
            per_scope_graphs: true,
            indexes: with_scope(&[
                index(TEXT, IndexKind::Text),
                index(CREATED_AT.indexed, IndexKind::Micros),
            ]),
        },
        Spec {
            name: names.history.clone(),
            dimension: HISTORY_DIMENSION,
            per_scope_graphs: false,
            indexes: with_scope(&[
                index(FACT_ID, IndexKind::Keyword),
                index(EPISODE, IndexKind::Keyword),
            ]),
        },
    ]
}

/// Creates what is missing and checks what exists. Safe to run from several processes at
/// once: a lost creation race is detected by looking again.
pub(crate) async fn ensure(client: &Qdrant, names: &Collections, dimension: usize) -> Result<()> {
    for spec in specs(names, dimension) {
        ensure_collection(client, &spec).await?;
        ensure_indexes(client, &spec).await?;
    }
    Ok(())
}

/// The payload indexes [`ensure`] would create or rebuild now, as `collection.field`: none
/// right after it ran, unless the server does not report back what it was asked to build
/// (then every connect would rebuild).
pub(crate) async fn pending(
    client: &Qdrant,
    names: &Collections,
    dimension: usize,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for spec in specs(names, dimension) {
        let info = collection_info(client, &spec.name).await?;
        for work in check_indexes(&spec, &info.payload_schema)? {
            let (IndexWork::Create(index) | IndexWork::Rebuild(index)) = work;
            out.push(format!("{}.{}", spec.name, index.field));
        }
    }
    Ok(out)
}

async fn exists(client: &Qdrant, name: &str) -> Result<bool> {
    client
        .collection_exists(name)
        .await
        .map_err(QdrantStoreError::request("checking a collection"))
}

async fn ensure_collection(client: &Qdrant, spec: &Spec) -> Result<()> {
    if !exists(client, &spec.name).await? {
        let hnsw = if spec.per_scope_graphs {
            HnswConfigDiffBuilder::default().m(0).payload_m(16)
        } else {
            HnswConfigDiffBuilder::default().m(0).payload_m(0)
        };
        let create = CreateCollectionBuilder::new(spec.name.clone())
            .vectors_config(VectorParamsBuilder::new(
                spec.dimension as u64,
                Distance::Cosine,
            ))
            .hnsw_config(hnsw);
        if let Err(err) = client.create_collection(create).await {
            // Another process may have created it in the meantime.
            if !exists(client, &spec.name).await? {
                return Err(QdrantStoreError::request("creating a collection")(err));
            }
        } else {
            tracing::info!(collection = %spec.name, dimension = spec.dimension, "qdrant collection created");
        }
    }
    let info = collection_info(client, &spec.name).await?;
    let vectors = info
        .config
        .and_then(|c| c.params)
        .and_then(|p| p.vectors_config)
        .and_then(|v| v.config);
    match vectors {
        Some(Config::Params(p))
            if p.size == spec.dimension as u64 && p.distance == Distance::Cosine as i32 =>
        {
            Ok(())
        }
        Some(Config::Params(p)) => Err(QdrantStoreError::Schema {
            collection: spec.name.clone(),
            detail: format!(
                "holds {}-dimensional vectors with distance {:?}, this store needs {} with Cosine \
                 (the embedder changed? use another collection prefix)",
                p.size,
                Distance::try_from(p.distance).map_or("unknown", |d| d.as_str_name()),
                spec.dimension
            ),
        }),
        other => Err(QdrantStoreError::Schema {
            collection: spec.name.clone(),
            detail: format!("expected one unnamed dense vector, found {other:?}"),
        }),
    }
}

async fn collection_info(
    client: &Qdrant,
    name: &str,
) -> Result<qdrant_client::qdrant::CollectionInfo> {
    client
        .collection_info(name)
        .await
        .map_err(QdrantStoreError::request("reading collection info"))?
        .result
        .ok_or_else(|| QdrantStoreError::Schema {
            collection: name.to_owned(),
            detail: "no collection info in the answer".to_owned(),
        })
}

/// What an expected payload index needs.
#[derive(Clone, Copy, Debug)]
enum IndexWork<'s> {
    Create(&'s Index),
    /// It exists with older parameters ([`IndexKind::is_current`]): dropped and created.
    Rebuild(&'s Index),
}

/// The work the expected payload indexes need, or an error naming an existing index of
/// another type.
fn check_indexes<'s>(
    spec: &'s Spec,
    existing: &std::collections::HashMap<String, qdrant_client::qdrant::PayloadSchemaInfo>,
) -> Result<Vec<IndexWork<'s>>> {
    let mut work = Vec::new();
    for index in &spec.indexes {
        match existing.get(index.field) {
            None => work.push(IndexWork::Create(index)),
            Some(info) if info.data_type == index.kind.schema_type() as i32 => {
                if !index.kind.is_current(info) {
                    work.push(IndexWork::Rebuild(index));
                }
            }
            Some(info) => {
                return Err(QdrantStoreError::Schema {
                    collection: spec.name.clone(),
                    detail: format!(
                        "payload index on `{}` is of type {}, expected {}",
                        index.field,
                        PayloadSchemaType::try_from(info.data_type)
                            .map_or("unknown", |t| t.as_str_name()),
                        index.kind.schema_type().as_str_name()
                    ),
                });
            }
        }
    }
    Ok(work)
}

async fn ensure_indexes(client: &Qdrant, spec: &Spec) -> Result<()> {
    let info = collection_info(client, &spec.name).await?;
    for work in check_indexes(spec, &info.payload_schema)? {
        let index = match work {
            IndexWork::Create(index) => index,
            IndexWork::Rebuild(index) => {
                tracing::info!(
                    collection = %spec.name,
                    field = index.field,
                    "rebuilding a payload index made with older parameters"
                );
                let delete = DeleteFieldIndexCollectionBuilder::new(spec.name.clone(), index.field)
                    .wait(true);
                if let Err(err) = client.delete_field_index(delete).await {
                    // Another process may have dropped it in the meantime.
                    let again = collection_info(client, &spec.name).await?;
                    if again.payload_schema.contains_key(index.field) {
                        return Err(QdrantStoreError::request("dropping a payload index")(err));
                    }
                }
                index
            }
        };
        let create = CreateFieldIndexCollectionBuilder::new(
            spec.name.clone(),
            index.field,
            index.kind.field_type(),
        )
        .field_index_params(index.kind.params())
        .wait(true);
        if let Err(err) = client.create_field_index(create).await {
            // Another process may have created it in the meantime.
            let again = collection_info(client, &spec.name).await?;
            if !again.payload_schema.contains_key(index.field) {
                return Err(QdrantStoreError::request("creating a payload index")(err));
            }
        }
    }
    Ok(())
}

/// `(major, minor)` of a version string such as `1.16.2` or `v1.20.0-rc1`.
pub(crate) fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

/// Oldest Qdrant whose features this store relies on: conditional upserts (`update_filter`,
/// 1.16) keep a write naming another scope's id from overwriting it. Older servers ignore
/// the condition; everything else works from 1.11 (tenant indexes).
pub(crate) const MIN_VERSION: (u64, u64) = (1, 16);

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use qdrant_client::qdrant::PayloadSchemaInfo;

    use super::*;

    #[test]
    fn collection_names_follow_the_prefix() {
        assert_eq!(
            Collections::new("mnemo"),
            Collections {
                relations: "mnemo_relations".into(),
                facts: "mnemo_facts".into(),
                history: "mnemo_fact_history".into(),
            }
        );
    }

    #[test]
    fn prefixes_are_checked() {
        for ok in ["mnemo", "mnemo_test-1", "A"] {
            assert!(check_prefix(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_collection_indexes_the_scope_and_its_filters() {
        let names = Collections::new("m");
        /// Name, indexes, dimension.
        type Listed = (String, Vec<(&'static str, IndexKind)>, usize);
        let listed: Vec<Listed> = specs(&names, 384)
            .into_iter()
            .map(|s| {
                (
                    s.name,
                    s.indexes.iter().map(|i| (i.field, i.kind)).collect(),
                    s.dimension,
                )
            })
            .collect();
        let scope = [
            ("scope_key", IndexKind::Tenant),
            ("user_id", IndexKind::Keyword),
            ("agent_id", IndexKind::Keyword),
            ("run_id", IndexKind::Keyword),
        ];
        let with_scope = |rest: &[(&'static str, IndexKind)]| {
            scope.iter().chain(rest).copied().collect::<Vec<_>>()
        };
        assert_eq!(
            listed,
            vec![
                (
                    "m_relations".to_owned(),
                    with_scope(&[
                        ("valid_from_us", IndexKind::Micros),
                        ("valid_to_us", IndexKind::Micros),
                        ("recorded_at_us", IndexKind::Micros),
                        ("invalidated_at_us", IndexKind::Micros),
                        ("retracted_at_us", IndexKind::Micros),
                    ]),
                    384
                ),
                (
                    "m_facts".to_owned(),
                    with_scope(&[
                        ("text", IndexKind::Text),
                        ("created_at_us", IndexKind::Micros)
                    ]),
                    384
                ),
                (
                    "m_fact_history".to_owned(),
                    with_scope(&[
                        ("fact_id", IndexKind::Keyword),
                        ("episode", IndexKind::Keyword)
                    ]),
                    1
                ),
            ]
        );
    }

    #[test]
    fn existing_indexes_are_kept_missing_created_wrong_refused() {
        let spec = &specs(&Collections::new("m"), 8)[1];
        let info = |t: PayloadSchemaType| PayloadSchemaInfo {
            data_type: t as i32,
            params: None,
            points: None,
        };
        let mut existing = HashMap::new();
        existing.insert("scope_key".to_owned(), info(PayloadSchemaType::Keyword));
        existing.insert("text".to_owned(), info(PayloadSchemaType::Text));
        existing.insert("unrelated".to_owned(), info(PayloadSchemaType::Float));
        let work = |existing: &HashMap<String, PayloadSchemaInfo>| -> Vec<String> {
            check_indexes(spec, existing)
                .unwrap()
                .iter()
                .map(|w| match w {
                    IndexWork::Create(i) => format!("create {}", i.field),
                    IndexWork::Rebuild(i) => format!("rebuild {}", i.field),
                })
                .collect()
        };
        // A text index without a stemmer (made before stemming) is rebuilt.
        assert_eq!(
            work(&existing),
            [
                "create user_id",
                "create agent_id",
                "create run_id",
                "rebuild text",
                "create created_at_us"
            ]
        );
        let current = PayloadSchemaInfo {
            data_type: PayloadSchemaType::Text as i32,
            params: Some(qdrant_client::qdrant::PayloadIndexParams {
                index_params: Some(IndexKind::Text.params()),
            }),
            points: None,
        };
        existing.insert("text".to_owned(), current);
        assert_eq!(
            work(&existing),
            [
                "create user_id",
                "create agent_id",
                "create run_id",
                "create created_at_us"
            ]
        );

        existing.insert(
            "created_at_us".to_owned(),
            info(PayloadSchemaType::Datetime),
        );
        let err = check_indexes(spec, &existing).unwrap_err().to_string();
        assert!(
            err.contains("`created_at_us` is of type Datetime, expected Integer"),
            "{err}"
        );
    }

    #[test]
    fn index_params_match_their_kind() {
        let cases = [
            (IndexKind::Tenant, "Keyword", Some(true)),
            (IndexKind::Keyword, "Keyword", None),
            (IndexKind::Micros, "Integer", None),
            (IndexKind::Text, "Text", None),
        ];
        for (kind, schema, tenant) in cases {
            assert_eq!(kind.schema_type().as_str_name(), schema);
            match kind.params() {
                IndexParams::KeywordIndexParams(p) => assert_eq!(p.is_tenant, tenant),
                IndexParams::IntegerIndexParams(p) => {
                    assert_eq!((p.lookup, p.range), (Some(false), Some(true)));
                }
                IndexParams::TextIndexParams(p) => {
                    assert_eq!(p.tokenizer, TokenizerType::Word as i32);
                    assert_eq!(p.lowercase, Some(true));
                    let stemmer = p.stemmer.and_then(|s| s.stemming_params);
                    assert!(
                        matches!(
                            &stemmer,
                            Some(qdrant_client::qdrant::stemming_algorithm::StemmingParams::Snowball(s))
                                if s.language == "english"
                        ),
                        "{stemmer:?}"
                    );
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn versions_parse_to_major_minor() {
        let cases: &[(&str, Option<(u64, u64)>)] = &[
            ("1.16.2", Some((1, 16))),
            ("v1.20.0-rc1", Some((1, 20))),
            ("1.9", Some((1, 9))),
            ("1.21-dev", Some((1, 21))),
            ("dev", None),
            ("", None),
        ];
        for (v, expected) in cases {
            assert_eq!(major_minor(v), *expected, "{v:?}");
        }
        assert!(major_minor("1.9.0").unwrap() < MIN_VERSION);
        assert!(major_minor("1.20.0").unwrap() >= MIN_VERSION);
    }
}
