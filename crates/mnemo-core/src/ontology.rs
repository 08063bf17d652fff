//! The ontology: which entity and relation types the extractor is steered towards, which
//! relation types are single-valued (a new one supersedes the old without an LLM), and
//! which types a model writes instead of them (synonyms, and types stating their end).
//! The built-in one is `ontology/builtin.toml`.

use serde::{Deserialize, Serialize};

use crate::llm::{ExtractedRelation, RelationTypeHint};
use crate::{EntityType, RelationType, Timestamp, ValidationError};

/// How many targets a source may have at once for a relation type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cardinality {
    /// One current target: a new one supersedes the old (`LIVES_IN`, `MARRIED_TO`).
    One,
    /// Any number at once (`WORKS_AT`, `LIKES`); conflicts go to the LLM.
    #[default]
    Many,
}

/// The ontology file as written (TOML in the binary, any serde format here).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OntologySpec {
    #[serde(default)]
    pub entity_types: Vec<String>,
    #[serde(default)]
    pub relation_types: Vec<RelationTypeSpec>,
}

/// One relation type of the ontology file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationTypeSpec {
    pub name: String,
    #[serde(default)]
    pub cardinality: Cardinality,
    #[serde(default)]
    pub description: String,
    /// Types stored as this one, dates unchanged (`MOVED_TO` for `LIVES_IN`).
    #[serde(default)]
    pub synonyms: Vec<String>,
    /// Types stating the end of this one (`MOVED_FROM` for `LIVES_IN`): stored as this
    /// type, ending when the extracted relation says (else at the conversation's time).
    #[serde(default)]
    pub ends: Vec<String>,
}

/// A validated ontology.
#[derive(Clone, Debug, PartialEq)]
pub struct Ontology {
    entity_types: Vec<EntityType>,
    relation_types: Vec<(RelationType, Cardinality, String)>,
    /// Written type → (stored type, whether the written one states its end).
    aliases: Vec<(RelationType, RelationType, bool)>,
}

/// The built-in ontology file.
const BUILTIN: &str = include_str!("../ontology/builtin.toml");

impl Ontology {
    /// The ontology used when `ontology.file` is not set (`ontology/builtin.toml`).
    pub fn builtin() -> Ontology {
        Ontology::from_toml(BUILTIN).expect("the built-in ontology is valid")
    }

    /// An ontology file's text (see `ontology/builtin.toml` for the form).
    pub fn from_toml(text: &str) -> Result<Ontology, ValidationError> {
        let spec: OntologySpec = toml::from_str(text)
            .map_err(|e| ValidationError::Name(format!("not an ontology file: {e}")))?;
        Ontology::from_spec(spec)
    }

    /// Validates every name; a type listed twice (as a relation type, a synonym or an
    /// ending type) is an error.
    pub fn from_spec(spec: OntologySpec) -> Result<Ontology, ValidationError> {
        let mut entity_types = Vec::new();
        for name in &spec.entity_types {
            let parsed = EntityType::parse(name)?;
            if entity_types.contains(&parsed) {
                return Err(ValidationError::Name(format!(
                    "entity type `{parsed}` is listed twice in the ontology"
                )));
            }
            entity_types.push(parsed);
        }
        let mut relation_types: Vec<(RelationType, Cardinality, String)> = Vec::new();
        for spec in &spec.relation_types {
            let parsed = RelationType::parse(&spec.name)?;
            if relation_types.iter().any(|(t, _, _)| *t == parsed) {
                return Err(ValidationError::Name(format!(
                    "relation type `{parsed}` is listed twice in the ontology"
                )));
            }
            relation_types.push((parsed, spec.cardinality, spec.description.clone()));
        }
        let mut aliases: Vec<(RelationType, RelationType, bool)> = Vec::new();
        for spec in &spec.relation_types {
            let stored = RelationType::parse(&spec.name)?;
            let written = spec.synonyms.iter().map(|s| (s, false));
            for (name, ends) in written.chain(spec.ends.iter().map(|s| (s, true))) {
                let alias = RelationType::parse(name)?;
                let taken = relation_types.iter().any(|(t, _, _)| *t == alias)
                    || aliases.iter().any(|(a, _, _)| *a == alias);
                if taken {
                    return Err(ValidationError::Name(format!(
                        "relation type `{alias}` is listed twice in the ontology (as a synonym or ending of `{stored}`)"
                    )));
                }
                aliases.push((alias, stored.clone(), ends));
            }
        }
        Ok(Ontology {
            entity_types,
            relation_types,
            aliases,
        })
    }

    /// An extracted relation in the ontology's own terms: a synonym becomes its relation
    /// type; an ending type (`MOVED_FROM Paris`, from May) becomes its relation type with
    /// no known start, ending at the relation's `valid_to`, else its `valid_from`, else
    /// `occurred_at` (the end is stated, only its date may not be). Anything else is kept.
    /// A type that is a known one followed by the target's name (`LIKES_SUSHI` for sushi)
    /// is read as the known one.
    pub fn normalize(
        &self,
        relation: ExtractedRelation,
        occurred_at: Timestamp,
    ) -> ExtractedRelation {
        let relation = self.without_target_suffix(relation);
        let Some((_, stored, ends)) = self
            .aliases
            .iter()
            .find(|(alias, _, _)| *alias == relation.relation_type)
        else {
            return relation;
        };
        let mut relation = ExtractedRelation {
            relation_type: stored.clone(),
            ..relation
        };
        if *ends {
            relation.valid_to = Some(
                relation
                    .valid_to
                    .or(relation.valid_from)
                    .unwrap_or(occurred_at),
            );
            relation.valid_from = None;
        }
        relation
    }

    /// `LIKES_SUSHI` with target sushi → `LIKES`, when `LIKES` is a relation type, a
    /// synonym or an ending type; anything else unchanged.
    fn without_target_suffix(&self, relation: ExtractedRelation) -> ExtractedRelation {
        let Ok(target) = RelationType::parse(&relation.target) else {
            return relation;
        };
        let Some(prefix) = relation
            .relation_type
            .as_str()
            .strip_suffix(target.as_str())
            .and_then(|p| p.strip_suffix('_'))
        else {
            return relation;
        };
        let Ok(prefix) = RelationType::parse(prefix) else {
            return relation;
        };
        let known = self.relation_types.iter().any(|(t, _, _)| *t == prefix)
            || self.aliases.iter().any(|(a, _, _)| *a == prefix);
        if !known {
            return relation;
        }
        ExtractedRelation {
            relation_type: prefix,
            ..relation
        }
    }

    /// Types not in the ontology are `Many`: only declared types are superseded blindly.
    pub fn cardinality(&self, relation_type: &RelationType) -> Cardinality {
        self.relation_types
            .iter()
            .find(|(t, _, _)| t == relation_type)
            .map_or(Cardinality::Many, |(_, c, _)| *c)
    }

    pub fn entity_types(&self) -> &[EntityType] {
        &self.entity_types
    }

    /// The relation types as the extractor is shown them.
    pub fn relation_hints(&self) -> Vec<RelationTypeHint> {
        self.relation_types
            .iter()
            .map(
                |(relation_type, cardinality, description)| RelationTypeHint {
                    relation_type: relation_type.clone(),
                    description: match cardinality {
                        Cardinality::One => format!("{description} (one at a time)"),
                        Cardinality::Many => description.clone(),
                    },
                },
            )
            .collect()
    }
}

impl Default for Ontology {
    fn default() -> Self {
        Ontology::builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_single_valued_types() {
        let ontology = Ontology::builtin();
        let check = |name: &str, expected: Cardinality| {
            let t = RelationType::parse(name).unwrap();
            assert_eq!(ontology.cardinality(&t), expected, "{name}");
        };
        check("LIVES_IN", Cardinality::One);
        check("married to", Cardinality::One);
        check("BORN_IN", Cardinality::One);
        check("HAS_AGE", Cardinality::One);
        check("WORKS_AT", Cardinality::Many);
        check("PLAYS", Cardinality::Many);
    }

    #[test]
    fn spec_errors() {
        let check = |spec: OntologySpec, expected: &str| {
            let err = Ontology::from_spec(spec).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        };
        check(
            OntologySpec {
                entity_types: vec!["Person".into(), "person".into()],
                relation_types: vec![],
            },
            "listed twice",
        );
        check(
            OntologySpec {
                entity_types: vec!["`Bad`".into()],
                relation_types: vec![],
            },
            "invalid entity type",
        );
        check(
            OntologySpec {
                entity_types: vec![],
                relation_types: vec![RelationTypeSpec {
                    name: "a.b".into(),
                    cardinality: Cardinality::One,
                    description: String::new(),
                    synonyms: vec![],
                    ends: vec![],
                }],
            },
            "invalid relation type",
        );
    }

    fn extracted(
        relation: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> ExtractedRelation {
        ExtractedRelation {
            source: "alice".into(),
            relation_type: RelationType::parse(relation).unwrap(),
            target: "Paris".into(),
            fact: "f".into(),
            valid_from: from,
            valid_to: to,
        }
    }

    #[test]
    fn synonyms_and_ending_types_normalize_to_the_relation_type() {
        use chrono::TimeZone;
        let day = |m: u32| chrono::Utc.with_ymd_and_hms(2024, m, 1, 0, 0, 0).unwrap();
        let ontology = Ontology::builtin();
        let now = day(9);
        let moved_to = ontology.normalize(extracted("MOVED_TO", Some(day(4)), None), now);
        assert_eq!(moved_to.relation_type.as_str(), "LIVES_IN");
        assert_eq!(
            (moved_to.valid_from, moved_to.valid_to),
            (Some(day(4)), None)
        );
        // "moved from Paris in May": lived there until May, since an unknown time.
        let moved_from = ontology.normalize(extracted("moved from", Some(day(5)), None), now);
        assert_eq!(moved_from.relation_type.as_str(), "LIVES_IN");
        assert_eq!(
            (moved_from.valid_from, moved_from.valid_to),
            (None, Some(day(5)))
        );
        let with_end = ontology.normalize(extracted("MOVED_FROM", Some(day(1)), Some(day(3))), now);
        assert_eq!(
            (with_end.valid_from, with_end.valid_to),
            (None, Some(day(3)))
        );
        // No date stated: ended by the time of the conversation.
        let undated = ontology.normalize(extracted("QUIT", None, None), now);
        assert_eq!(undated.relation_type.as_str(), "WORKS_AT");
        assert_eq!(undated.valid_to, Some(now));
        // The target's name tacked onto a known type.
        let mut likes_sushi = extracted("LIKES_SUSHI", None, None);
        likes_sushi.target = "sushi".into();
        let likes = ontology.normalize(likes_sushi.clone(), now);
        assert_eq!(likes.relation_type.as_str(), "LIKES");
        let mut loves_ice_cream = extracted("LOVES_ICE_CREAM", None, None);
        loves_ice_cream.target = "ice cream".into();
        assert_eq!(
            ontology
                .normalize(loves_ice_cream, now)
                .relation_type
                .as_str(),
            "LIKES"
        );
        let mut plays_chess = extracted("PLAYS_CHESS", None, None);
        plays_chess.target = "chess".into();
        assert_eq!(
            ontology.normalize(plays_chess, now).relation_type.as_str(),
            "PLAYS_CHESS"
        );
        // Types of the ontology and unknown ones are kept as they are.
        for kept in ["LIVES_IN", "PLAYS"] {
            let same = ontology.normalize(extracted(kept, Some(day(2)), None), now);
            assert_eq!(same, extracted(kept, Some(day(2)), None));
        }
    }

    #[test]
    fn a_synonym_may_name_one_type_only() {
        let check = |text: &str, expected: &str| {
            let err = Ontology::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        };
        check(
            "[[relation_types]]\nname = \"A\"\nsynonyms = [\"B\"]\n[[relation_types]]\nname = \"C\"\nends = [\"B\"]",
            "`B` is listed twice",
        );
        check(
            "[[relation_types]]\nname = \"A\"\n[[relation_types]]\nname = \"C\"\nsynonyms = [\"A\"]",
            "`A` is listed twice",
        );
        check(
            "[[relation_types]]\nname = \"A\"\nsynonyms = [\"b.c\"]",
            "invalid relation type",
        );
        check("relation_types = 3", "not an ontology file");
    }
}
