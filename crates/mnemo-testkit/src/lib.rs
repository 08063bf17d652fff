//! Test support shared by every crate: the store contract suite that each storage backend
//! must pass, and fixtures (records, synthetic vectors, timestamps) that tests build on.
//!
//! The suite talks to a backend only through the ports of `mnemo_core::ports`
//! (`GraphRead`, `GraphWrite`, `VectorRead`, `VectorWrite`); run it with
//! [`store_contract_tests!`].

use mnemo_core::ports::{GraphWrite, VectorWrite};

pub mod contract;
pub mod fixtures;
pub mod scripted_llm;
mod split_store;
pub mod zero_latency_llm;

pub use split_store::SplitStore;

/// A backend the contract suite can run against: the graph and vector ports in one value.
pub trait ContractStore: GraphWrite + VectorWrite + 'static {}

impl<T: GraphWrite + VectorWrite + ?Sized + 'static> ContractStore for T {}

/// Length of every vector the suite stores; open the backend under test with this dimension.
pub const CONTRACT_DIMENSION: usize = 8;

/// Names of every contract case, in the order [`store_contract_tests!`] generates them.
pub const CONTRACT_CASES: &[&str] = __contract_cases!(@names);

/// Generates one `#[tokio::test]` per contract case, in a module `store_contract`, each
/// running `mnemo_testkit::contract::<case>(&store)` against a fresh store.
///
/// `$make` is an async function taking no arguments and returning
/// `Option<(S, Guard)>` where `S: ContractStore`; `Guard` (for instance a
/// `tempfile::TempDir`) is kept alive until the case ends. `None` means the backend is not
/// available here (say, its server's address is not configured): each case then prints one
/// line saying it was skipped and passes.
///
/// Every case creates its own random scopes, so one shared backend (one Neo4j database) can
/// serve all cases, also concurrently. Open the backend with [`CONTRACT_DIMENSION`].
///
/// The calling crate needs `tokio` (features `macros` and `rt`) in its `[dev-dependencies]`,
/// because `#[tokio::test]` is resolved there.
///
/// ```text
/// async fn open_store() -> Option<(EmbeddedStore, tempfile::TempDir)> {
///     let dir = tempfile::tempdir().expect("temp dir");
///     let store = EmbeddedStore::open(dir.path(), mnemo_testkit::CONTRACT_DIMENSION)
///         .expect("open the embedded store");
///     Some((store, dir))
/// }
///
/// mnemo_testkit::store_contract_tests!(open_store);
/// ```
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr $(,)?) => {
        $crate::__contract_cases!(@tests ($make));
    };
}

/// The single list of contract cases, expanded into tests or into [`CONTRACT_CASES`].
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_cases {
    (@expand [@tests ($make:expr)] $($case:ident),* $(,)?) => {
        mod store_contract {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[::tokio::test]
                async fn $case() {
                    let Some((store, _guard)) = ($make)().await else {
                        ::std::eprintln!(
                            "skipped store contract case `{}`: `{}` returned None, the backend is not available here",
                            ::std::stringify!($case),
                            ::std::stringify!($make),
                        );
                        return;
                    };
                    $crate::contract::$case(&store).await;
                }
            )*
        }
    };
    (@expand [@names] $($case:ident),* $(,)?) => {
        &[$(::std::stringify!($case)),*]
    };
    ($($mode:tt)*) => {
        $crate::__contract_cases! {@expand [$($mode)*]
            ping_succeeds,
            scope_isolation_between_users,
            scope_isolation_user_vs_user_and_run,
            scope_isolation_user_vs_agent_with_same_id,
            scope_isolation_of_writes,
            erase_scope_leaves_other_scopes_intact,
            scopes_and_counts_cover_seeded_data,
            apply_rejects_records_of_another_scope,
            add_relation_with_entity_of_another_scope_fails,
            visibility_in_relations_query,
            visibility_in_walk,
            visibility_in_relation_search,
            relation_search_filter_still_returns_k_visible_hits,
            walk_depth_on_chain,
            walk_does_not_loop_on_cycles,
            walk_stops_at_invisible_relations,
            relations_query_filters_and_order,
            end_then_restore_round_trip,
            stated_end_round_trip,
            end_known_when_recorded,
            retract_then_restore_round_trip,
            delete_relation_and_its_vector,
            add_provenance_counts_every_call_adds_episode_once,
            changes_window_is_half_open,
            apply_is_atomic,
            upsert_entity_twice_keeps_one_entity,
            name_and_alias_conflicts,
            entities_listing_pages,
            entity_text_search_matches_names_and_aliases,
            vector_searches_are_best_first,
            upsert_relation_vector_twice_gives_one_hit,
            insert_episode_is_idempotent_per_scope,
            episode_status_transitions_and_pending,
            fact_put_update_delete_keeps_history,
            facts_listing_is_newest_first_and_paged,
            fact_text_search_matches_words,
            remove_provenance_round_trip_and_floor,
            delete_entity_refused_while_a_relation_touches_it,
            episode_footprint_lists_stated_ended_and_mentioned,
            fact_events_of_episode_oldest_first,
            erase_scope_clears_footprints_fact_events_and_summary,
            recent_episodes_newest_first_strictly_before,
            llm_usage_round_trips_through_set_episode_status,
            scope_summary_put_replace_and_erase,
            drop_scope_summary_removes_only_the_scopes_own,
            record_alias_is_in_the_episodes_footprint,
            entities_by_names_answers_each_name_in_order,
            reads_by_ids_answer_each_id_in_order,
            put_facts_writes_each_fact_with_its_event,
        }
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every `pub async fn` of the contract modules is a case the macro generates, and back.
    #[test]
    fn macro_lists_every_contract_case() {
        let sources = [
            include_str!("contract/mod.rs"),
            include_str!("contract/entities.rs"),
            include_str!("contract/episodes.rs"),
            include_str!("contract/facts.rs"),
            include_str!("contract/isolation.rs"),
            include_str!("contract/relations.rs"),
            include_str!("contract/revert.rs"),
            include_str!("contract/visibility.rs"),
            include_str!("contract/walk.rs"),
        ];
        let defined: BTreeSet<&str> = sources
            .iter()
            .flat_map(|src| src.split("pub async fn ").skip(1))
            .map(|rest| rest.split('<').next().unwrap_or_default().trim())
            .collect();
        let listed: BTreeSet<&str> = super::CONTRACT_CASES.iter().copied().collect();
        assert_eq!(
            listed.len(),
            super::CONTRACT_CASES.len(),
            "a case is listed twice"
        );
        assert_eq!(
            listed, defined,
            "the case list in __contract_cases! must match the contract functions"
        );
    }
}
