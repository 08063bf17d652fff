//! What the pipelines hand back: relations with their entities' names, ready to show.

use serde::{Deserialize, Serialize};

use crate::{Entity, EntityId, EntityType, Relation};

/// An entity as a relation's end: enough to print "Alice -LIVES_IN-> Lisbon".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityRef {
    pub id: EntityId,
    pub name: String,
    #[serde(rename = "type")]
    pub entity_type: EntityType,
}

impl From<&Entity> for EntityRef {
    fn from(entity: &Entity) -> Self {
        EntityRef {
            id: entity.id,
            name: entity.display_name.clone(),
            entity_type: entity.entity_type.clone(),
        }
    }
}

/// A relation with its two ends resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelationView {
    pub relation: Relation,
    pub source: EntityRef,
    pub target: EntityRef,
}

impl RelationView {
    /// "Alice LIVES_IN Lisbon".
    pub fn triplet_text(&self) -> String {
        format!(
            "{} {} {}",
            self.source.name, self.relation.relation_type, self.target.name
        )
    }
}
