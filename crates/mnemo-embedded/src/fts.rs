//! Full-text search over entity names and fact text (FTS5). User text becomes quoted
//! phrases OR-ed together, so it can never be FTS syntax, and the query is ANDed with the
//! scope's tag, so FTS5 only walks postings of the caller's scope.

use mnemo_core::Scope;
use mnemo_core::ports::Scored;
use rusqlite::{Connection, Row, params};

use crate::codec::{ENTITY_COLUMNS, FACT_COLUMNS};
use crate::error::Result;
use crate::sql_int;

/// A full-text index and the table whose rows it indexes (`base.pk = fts.rowid`).
pub(crate) struct FtsTable {
    fts: &'static str,
    base: &'static str,
    /// The FTS column holding the searchable text.
    text_column: &'static str,
    /// The base table's columns, as its row decoder reads them.
    base_columns: &'static str,
}

pub(crate) const ENTITIES: FtsTable = FtsTable {
    fts: "entity_fts",
    base: "entities",
    text_column: "names",
    base_columns: ENTITY_COLUMNS,
};

pub(crate) const FACTS: FtsTable = FtsTable {
    fts: "fact_fts",
    base: "facts",
    text_column: "text",
    base_columns: FACT_COLUMNS,
};

/// Best `limit` rows of `table` in `scope` for `query` by bm25 (score = -bm25, higher is
/// better); nothing for a query without a letter or digit.
pub(crate) fn search<T>(
    conn: &Connection,
    table: &FtsTable,
    scope: &Scope,
    query: &str,
    limit: usize,
    decode: impl Fn(&Row<'_>) -> Result<Option<T>>,
) -> Result<Vec<Scored<T>>> {
    let key = scope.key();
    let Some(expr) = match_expression(query, table.text_column, &key) else {
        return Ok(Vec::new());
    };
    let FtsTable { fts, base, .. } = table;
    let columns: Vec<String> = table
        .base_columns
        .split(", ")
        .map(|c| format!("b.{c}"))
        .collect();
    let rank_index = columns.len();
    let sql = format!(
        "SELECT {}, bm25({fts}, 1.0, 0.0) AS rank FROM {fts} \
         JOIN {base} b ON b.pk = {fts}.rowid \
         WHERE {fts} MATCH ?1 AND b.scope = ?2 ORDER BY rank, b.id LIMIT ?3",
        columns.join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![expr, key, sql_int(limit)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let rank: f64 = row.get(rank_index)?;
        if let Some(item) = decode(row)? {
            out.push(Scored {
                item,
                score: -rank as f32,
            });
        }
    }
    Ok(out)
}

/// Longer queries are cut; FTS5 cost grows with the number of phrases.
const MAX_TERMS: usize = 32;

/// The MATCH expression searching `input` in `column` within the scope whose key is
/// `scope_key`, or `None` when no token has a letter or digit.
pub(crate) fn match_expression(input: &str, column: &str, scope_key: &str) -> Option<String> {
    // Control characters separate terms like spaces: a NUL would end the query early.
    let terms: Vec<String> = input
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .take(MAX_TERMS)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| {
        format!(
            "scope_tag : \"{}\" AND {column} : ({})",
            scope_tag(scope_key),
            terms.join(" OR ")
        )
    })
}

/// The one-token tag stored in the `scope_tag` column of the FTS tables: `s` + FNV-1a 64 of
/// the scope key in hex. Stable across builds (it is persisted); a collision only costs
/// time, because results are still filtered on the full scope key.
pub(crate) fn scope_tag(scope_key: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in scope_key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("s{hash:016x}")
}

/// The text indexed for an entity: display name, name and aliases, each once (ignoring
/// case), so bm25 does not count a word twice because it is both name and display name.
pub(crate) fn entity_names(display_name: &str, name: &str, aliases: &[String]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for n in std::iter::once(display_name)
        .chain(std::iter::once(name))
        .chain(aliases.iter().map(String::as_str))
    {
        let lower = n.to_lowercase();
        if !seen.contains(&lower) {
            seen.push(lower);
        }
    }
    seen.join(" ; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_quoted_phrases() {
        let cases: &[(&str, Option<&str>)] = &[
            ("alice", Some(r#""alice""#)),
            ("  Alice   Smith ", Some(r#""Alice" OR "Smith""#)),
            (r#"say "hi""#, Some(r#""say" OR """hi""""#)),
            ("alice AND bob", Some(r#""alice" OR "AND" OR "bob""#)),
            ("NEAR(a b)", Some(r#""NEAR(a" OR "b)""#)),
            ("ali*", Some(r#""ali*""#)),
            ("name:x", Some(r#""name:x""#)),
            ("* - \" ()", None),
            ("Ann\0 likes", Some(r#""Ann" OR "likes""#)),
            ("\0\u{7}", None),
            ("", None),
        ];
        let tag = scope_tag("alice");
        for (input, expected) in cases {
            let expected =
                expected.map(|terms| format!("scope_tag : \"{tag}\" AND names : ({terms})"));
            assert_eq!(
                match_expression(input, "names", "alice"),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn scope_tags_are_stable_and_distinct() {
        // Persisted in the FTS tables: changing the function would orphan stored rows.
        assert_eq!(scope_tag(""), "scbf29ce484222325");
        assert_eq!(scope_tag("a"), "saf63dc4c8601ec8c");
        assert_ne!(
            scope_tag("alice\u{1f}\u{1f}"),
            scope_tag("\u{1f}alice\u{1f}")
        );
    }

    #[test]
    fn entity_names_are_deduplicated_ignoring_case() {
        assert_eq!(
            entity_names("Alice Smith", "alice smith", &["ali".into(), "Ali".into()]),
            "alice smith ; ali"
        );
    }
}
