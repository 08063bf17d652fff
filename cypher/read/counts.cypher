// Record counts across all scopes (for /metrics): label counts come from the count store,
// episode counts by status from the (status, ingested_at) index.
CALL () { MATCH (e:Entity) RETURN count(e) AS entities }
CALL () { MATCH (k:RelationKey) RETURN count(k) AS relations }
CALL () {
  MATCH (e:Episode)
  WHERE e.status IN ['pending', 'done', 'failed']
  RETURN sum(CASE e.status WHEN 'pending' THEN 1 ELSE 0 END) AS pending,
         sum(CASE e.status WHEN 'done' THEN 1 ELSE 0 END) AS done,
         sum(CASE e.status WHEN 'failed' THEN 1 ELSE 0 END) AS failed
}
RETURN entities, relations, pending, done, failed
