//! The ontology: which entity and relation types the extractor is steered towards, and
//! which relation types are single-valued (a new one supersedes the old without an LLM).

use serde::{Deserialize, Serialize};

use crate::llm::RelationTypeHint;
use crate::{EntityType, RelationType, ValidationError};

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
}

/// A validated ontology.
#[derive(Clone, Debug, PartialEq)]
pub struct Ontology {
    entity_types: Vec<EntityType>,
    relation_types: Vec<(RelationType, Cardinality, String)>,
}

const BUILTIN_ENTITY_TYPES: &[&str] = &[
    "Person",
    "Organization",
    "City",
    "Country",
    "Place",
    "Event",
    "Product",
    "Food",
    "Activity",
    "Animal",
    "Date",
    "Concept",
];

const BUILTIN_RELATION_TYPES: &[(&str, Cardinality, &str)] = &[
    (
        "LIVES_IN",
        Cardinality::One,
        "where someone currently lives",
    ),
    ("MARRIED_TO", Cardinality::One, "current spouse"),
    ("BORN_IN", Cardinality::One, "place of birth"),
    ("HAS_AGE", Cardinality::One, "someone's age"),
    ("WORKS_AT", Cardinality::Many, "an employer"),
    ("WORKS_AS", Cardinality::Many, "a job or role"),
    ("STUDIES_AT", Cardinality::Many, "a school or university"),
    ("FRIEND_OF", Cardinality::Many, "a friendship"),
    ("RELATED_TO", Cardinality::Many, "a family tie"),
    ("LIKES", Cardinality::Many, "something someone enjoys"),
    ("DISLIKES", Cardinality::Many, "something someone avoids"),
    ("OWNS", Cardinality::Many, "a possession or pet"),
    ("VISITED", Cardinality::Many, "a place someone went to"),
    ("PARTICIPATES_IN", Cardinality::Many, "an activity or event"),
];

impl Ontology {
    /// The ontology used when `ontology.file` is not set.
    pub fn builtin() -> Ontology {
        let spec = OntologySpec {
            entity_types: BUILTIN_ENTITY_TYPES.iter().map(|s| s.to_string()).collect(),
            relation_types: BUILTIN_RELATION_TYPES
                .iter()
                .map(|(name, cardinality, description)| RelationTypeSpec {
                    name: name.to_string(),
                    cardinality: *cardinality,
                    description: description.to_string(),
                })
                .collect(),
        };
        Ontology::from_spec(spec).expect("the built-in ontology is valid")
    }

    /// Validates every name; a type listed twice is an error.
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
        for spec in spec.relation_types {
            let parsed = RelationType::parse(&spec.name)?;
            if relation_types.iter().any(|(t, _, _)| *t == parsed) {
                return Err(ValidationError::Name(format!(
                    "relation type `{parsed}` is listed twice in the ontology"
                )));
            }
            relation_types.push((parsed, spec.cardinality, spec.description));
        }
        Ok(Ontology {
            entity_types,
            relation_types,
        })
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
                }],
            },
            "invalid relation type",
        );
    }
}
