//! Every Cypher query the store runs, one file each under `cypher/` at the repository root,
//! compiled in with `include_str!`. Queries take parameters only: no query text is built
//! from data, with one exception: a relationship type written by CREATE is a literal in
//! a template ([`add_relations`]), filled only from a validated `RelationType`. Labels reach
//! Neo4j through its dynamic `$(…)` syntax from the validated `EntityType`.

use mnemo_core::RelationType;

macro_rules! queries {
    ($($(#[$doc:meta])* $name:ident = $path:literal;)*) => {
        $(
            $(#[$doc])*
            pub(crate) const $name: &str = include_str!(concat!("../../../cypher/", $path));
        )*

        /// Every query with its path under `cypher/` (for the tests).
        #[cfg(test)]
        pub(crate) const ALL: &[(&str, &str)] = &[$(($path, $name)),*];
    };
}

queries! {
    /// The schema, several statements (see [`schema_statements`]).
    SCHEMA = "schema.cypher";

    PING = "read/ping.cypher";
    ENTITIES_BY_ID = "read/entities_by_id.cypher";
    ENTITY_BY_NAME = "read/entity_by_name.cypher";
    ENTITIES = "read/entities.cypher";
    ENTITIES_TEXT = "read/entities_text.cypher";
    ENTITIES_VECTOR_INDEX = "read/entities_vector_index.cypher";
    ENTITIES_VECTOR_EXACT = "read/entities_vector_exact.cypher";
    ENTITY_IDS_ELSEWHERE = "read/entity_ids_elsewhere.cypher";
    ENTITIES_TOUCHED = "read/entities_touched.cypher";
    RELATIONS_BY_ID = "read/relations_by_id.cypher";
    RELATIONS_OF_ENTITY = "read/relations_of_entity.cypher";
    RELATIONS_OF_TYPE = "read/relations_of_type.cypher";
    RELATIONS_OF_SCOPE = "read/relations_of_scope.cypher";
    RELATION_IDS_TAKEN = "read/relation_ids_taken.cypher";
    CHANGES = "read/changes.cypher";
    FOOTPRINT = "read/footprint.cypher";
    EPISODE = "read/episode.cypher";
    EPISODE_BY_IDEMPOTENCY = "read/episode_by_idempotency.cypher";
    PENDING_EPISODES = "read/pending_episodes.cypher";
    RECENT_EPISODES = "read/recent_episodes.cypher";
    SCOPE_SUMMARY = "read/scope_summary.cypher";
    SCOPES = "read/scopes.cypher";
    COUNTS = "read/counts.cypher";
    EXISTS = "read/exists.cypher";
    VECTOR_INDEX = "read/vector_index.cypher";

    CREATE_EPISODE = "write/create_episode.cypher";
    UPSERT_ENTITIES = "write/upsert_entities.cypher";
    RELEASE_ENTITY_KEYS = "write/release_entity_keys.cypher";
    CLAIM_ENTITY_KEYS = "write/claim_entity_keys.cypher";
    ADD_RELATIONS = "write/add_relations.cypher";
    ADD_PROVENANCE = "write/add_provenance.cypher";
    REMOVE_PROVENANCE = "write/remove_provenance.cypher";
    UNLINK_PROVENANCE = "write/unlink_provenance.cypher";
    END_RELATIONS = "write/end_relations.cypher";
    RETRACT_RELATIONS = "write/retract_relations.cypher";
    RESTORE_RELATIONS = "write/restore_relations.cypher";
    SET_STATED_END = "write/set_stated_end.cypher";
    DROP_SCOPE_SUMMARY = "write/drop_scope_summary.cypher";
    DELETE_RELATIONS = "write/delete_relations.cypher";
    DELETE_ENTITIES = "write/delete_entities.cypher";
    MENTION = "write/mention.cypher";
    RECORD_ALIASES = "write/record_aliases.cypher";
    SET_EPISODE_STATUS = "write/set_episode_status.cypher";
    DELETE_EPISODES = "write/delete_episodes.cypher";
    PUT_SCOPE_SUMMARY = "write/put_scope_summary.cypher";
    ERASE_SCOPE = "write/erase_scope.cypher";
}

/// The placeholder a template carries where one relation type goes (backticked in the
/// file). It cannot be a `RelationType` (those start with a capital letter), so a
/// rendered statement never contains it.
pub(crate) const RELATION_TYPE_PLACEHOLDER: &str = "__RELATION_TYPE__";

/// A query template rendered for one relation type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TypedStatement {
    pub(crate) relation_type: RelationType,
    pub(crate) text: String,
}

/// [`ADD_RELATIONS`] for relations of type `relation_type`, written as a literal.
///
/// Neo4j 5.26 Community resolves a dynamic relationship type in CREATE/MERGE
/// (`[:$(row.type)]`) once per cached plan (neo4j/neo4j#13597): every row of an UNWIND,
/// and every later run with another type, would get the first one. So the type is part
/// of the query text, one statement per type. Splicing it in is safe because a
/// `RelationType` can only be built by `RelationType::parse`, which accepts
/// `^[A-Z][A-Z0-9_]{0,127}$` only: no backtick, quote, space or bracket can reach the
/// backticked literal.
pub(crate) fn add_relations(relation_type: &RelationType) -> TypedStatement {
    TypedStatement {
        relation_type: relation_type.clone(),
        text: code_lines(ADD_RELATIONS).replace(RELATION_TYPE_PLACEHOLDER, relation_type.as_str()),
    }
}

/// `text` without its `//` comment lines: the statement as the server gets it.
pub(crate) fn code_lines(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The visibility rule of DESIGN §2 (`mnemo_core::is_visible`) in Cypher, for a relation
/// `r` read at `($as_of, $known_at)`. Every query taking `$as_of` contains it verbatim
/// (up to whitespace); a test checks it, and another checks its null logic against
/// `is_visible`.
#[cfg(test)]
pub(crate) const VISIBLE: &str = "r.recorded_at <= $known_at
    AND (r.retracted_at IS NULL OR r.retracted_at > $known_at)
    AND (r.valid_from IS NULL OR r.valid_from <= $as_of)
    AND (r.valid_to IS NULL OR r.invalidated_at > $known_at OR $as_of < r.valid_to)";

/// The statements of [`SCHEMA`]: split where a line ends with `;`, `//` comment lines
/// dropped.
pub(crate) fn schema_statements() -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in SCHEMA.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        if let Some(last) = trimmed.strip_suffix(';') {
            current.push_str(last);
            statements.push(std::mem::take(&mut current));
        } else {
            current.push_str(trimmed);
        }
    }
    if !current.trim().is_empty() {
        statements.push(current);
    }
    statements
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    use chrono::{Duration, TimeZone, Utc};
    use mnemo_core::{RelationTimes, Timestamp, Visibility, is_visible};

    use super::*;

    fn cypher_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cypher")
    }

    fn collapse(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Every query file the store can run is compiled in, and every compiled-in query is a
    /// file (the Browser's saved queries are for people, not the store).
    #[test]
    fn every_query_file_is_compiled_in() {
        let mut on_disk = BTreeSet::new();
        for dir in ["read", "write"] {
            for entry in std::fs::read_dir(cypher_dir().join(dir)).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(name.ends_with(".cypher"), "unexpected file {dir}/{name}");
                on_disk.insert(format!("{dir}/{name}"));
            }
        }
        on_disk.insert("schema.cypher".to_owned());
        let compiled: BTreeSet<String> = ALL.iter().map(|(path, _)| (*path).to_owned()).collect();
        assert_eq!(compiled.len(), ALL.len(), "a query is listed twice");
        assert_eq!(on_disk, compiled);
    }

    /// Each file starts with a comment saying what it does, and holds one statement (the
    /// schema excepted).
    #[test]
    fn queries_are_documented_single_statements() {
        for (path, text) in ALL {
            assert!(text.starts_with("// "), "{path}: starts without a comment");
            let code: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            if *path != "schema.cypher" {
                assert!(
                    !code.iter().any(|l| l.contains(';')),
                    "{path}: more than one statement"
                );
            }
        }
    }

    /// Every query reading at a point in time applies the one visibility rule, verbatim.
    #[test]
    fn every_point_in_time_read_uses_the_visibility_rule() {
        let rule = collapse(VISIBLE);
        let mut users = Vec::new();
        for (path, text) in ALL {
            if text.contains("$as_of") {
                assert!(
                    collapse(text).contains(&rule),
                    "{path} reads at $as_of without the visibility rule"
                );
                users.push(*path);
            }
        }
        assert_eq!(
            users,
            [
                "read/relations_of_entity.cypher",
                "read/relations_of_type.cypher",
                "read/relations_of_scope.cypher",
            ]
        );
    }

    /// Neo4j Browser's GraSS parser (`GraphStyleModel.parse` in neo4j-browser): selector ->
    /// property -> value.
    fn parse_grass(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut rules = BTreeMap::new();
        let (mut in_string, mut in_props) = (false, false);
        let (mut keyword, mut props) = (String::new(), String::new());
        for c in text.chars() {
            match c {
                '{' if !in_string => in_props = true,
                '}' if !in_string => {
                    in_props = false;
                    rules.insert(std::mem::take(&mut keyword), std::mem::take(&mut props));
                }
                '\'' => in_string = !in_string,
                c if in_props => props.push(c),
                c if !c.is_whitespace() => keyword.push(c),
                _ => {}
            }
        }
        rules
            .into_iter()
            .map(|(selector, props)| {
                let props = props
                    .split(';')
                    .filter_map(|p| {
                        let mut kv = p.split(':');
                        let (k, v) = (kv.next()?.trim(), kv.next()?.trim());
                        (!k.is_empty() && !v.is_empty()).then(|| (k.to_owned(), v.to_owned()))
                    })
                    .collect();
                (selector, props)
            })
            .collect()
    }

    #[test]
    fn browser_style_colours_entities_by_type_and_marks_ended_relations() {
        let text = std::fs::read_to_string(cypher_dir().join("browser/style.grass")).unwrap();
        let rules = parse_grass(&text);
        assert_eq!(
            rules.len(),
            text.matches("\n}").count(),
            "a rule did not parse"
        );
        let entity = &rules["node.Entity"];
        assert_eq!(entity["caption"], "{display_name}");
        // A colour on node.Entity would stop Browser from colouring each type apart.
        assert!(!entity.contains_key("color"), "{entity:?}");
        for ty in ["Person", "Organization", "City"] {
            let rule = &rules[&format!("node.{ty}")];
            assert!(rule["color"].starts_with('#'), "{ty}: {rule:?}");
            assert_eq!(rule["caption"], "{display_name}", "{ty}");
        }
        let colours: BTreeSet<&String> = ["Person", "Organization", "City", "Event"]
            .iter()
            .map(|ty| &rules[&format!("node.{ty}")]["color"])
            .collect();
        assert_eq!(colours.len(), 4, "types share a colour");
        assert_eq!(rules["relationship"]["caption"], "<type> {status}");
    }

    #[test]
    fn browser_saved_queries_are_there() {
        let mut names: Vec<String> = std::fs::read_dir(cypher_dir().join("browser"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "changes_since.cypher",
                "ended_relations.cypher",
                "entity_timeline.cypher",
                "provenance.cypher",
                "style.grass",
                "user_graph.cypher",
            ]
        );
    }

    #[test]
    fn schema_splits_into_its_statements() {
        let statements = schema_statements();
        assert_eq!(
            statements.len(),
            SCHEMA.matches("\nCREATE ").count(),
            "{statements:#?}"
        );
        assert_eq!(statements.len(), 22);
        for s in &statements {
            assert!(
                s.starts_with("CREATE ") && s.contains(" IF NOT EXISTS"),
                "not an idempotent CREATE: {s}"
            );
            assert!(!s.contains(';') && !s.contains("//"), "{s}");
        }
        assert!(
            statements
                .last()
                .unwrap()
                .contains("`vector.dimensions`: $dimension")
        );
    }

    // Cypher's three-valued logic, to check the rule's handling of missing properties:
    // `None` is null. A WHERE keeps a row only when its predicate is `Some(true)`.
    fn le(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<bool> {
        Some(a? <= b?)
    }
    fn gt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<bool> {
        Some(a? > b?)
    }
    fn lt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<bool> {
        Some(a? < b?)
    }
    fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
        match (a, b) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        }
    }
    fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
        match (a, b) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }
    }
    fn is_null(a: Option<Timestamp>) -> Option<bool> {
        Some(a.is_none())
    }

    /// [`VISIBLE`], clause by clause, in three-valued logic.
    fn cypher_visible(r: &RelationTimes, at: &Visibility) -> Option<bool> {
        let (t, k) = (Some(at.as_of), Some(at.known_at));
        let recorded = le(Some(r.recorded_at), k);
        let not_retracted = or(is_null(r.retracted_at), gt(r.retracted_at, k));
        let started = or(is_null(r.valid_from), le(r.valid_from, t));
        let not_ended = or(
            or(is_null(r.valid_to), gt(r.invalidated_at, k)),
            lt(t, r.valid_to),
        );
        and(and(and(recorded, not_retracted), started), not_ended)
    }

    #[test]
    fn visibility_rule_in_cypher_logic_agrees_with_core() {
        let day = |d: i64| Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + Duration::days(d);
        let opt = |d: Option<i64>| d.map(day);
        let points: Vec<Option<i64>> = vec![None, Some(1), Some(5), Some(10), Some(15)];
        let mut checked = 0;
        for valid_from in &points {
            for valid_to in &points {
                for invalidated_at in &points {
                    for retracted_at in &points {
                        let times = RelationTimes {
                            valid_from: opt(*valid_from),
                            valid_to: opt(*valid_to),
                            recorded_at: day(5),
                            invalidated_at: opt(*invalidated_at),
                            retracted_at: opt(*retracted_at),
                        };
                        for (t, k) in [(0, 20), (3, 20), (5, 5), (12, 12), (20, 4), (20, 20)] {
                            let at = Visibility {
                                as_of: day(t),
                                known_at: day(k),
                            };
                            assert_eq!(
                                cypher_visible(&times, &at) == Some(true),
                                is_visible(&times, &at),
                                "{times:?} at (day {t}, day {k})"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 625 * 6);
    }
}
