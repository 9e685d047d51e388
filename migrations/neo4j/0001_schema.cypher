// 0001 schema: the constraints and indexes every Maestro graph needs.
// Every statement is IF NOT EXISTS, so two processes migrating at once are both safe.
// Neo4j runs each schema statement in a transaction of its own (no data writes beside it).

// Migration bookkeeping: one (:_MaestroMigration {version}) node per applied file.
CREATE CONSTRAINT maestro_migration_version IF NOT EXISTS
FOR (m:_MaestroMigration) REQUIRE m.version IS UNIQUE;

// Node ids are unique per tenant; this constraint's index serves every lookup by id.
CREATE CONSTRAINT node_tenant_id IF NOT EXISTS
FOR (n:Node) REQUIRE (n.tenant, n.id) IS UNIQUE;

// Natural keys are unique per (tenant, label); these indexes serve get_by_keys.
CREATE CONSTRAINT person_tenant_key IF NOT EXISTS
FOR (n:Person) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT team_tenant_key IF NOT EXISTS
FOR (n:Team) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT project_tenant_key IF NOT EXISTS
FOR (n:Project) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT artifact_tenant_key IF NOT EXISTS
FOR (n:Artifact) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT dataset_tenant_key IF NOT EXISTS
FOR (n:Dataset) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT field_tenant_key IF NOT EXISTS
FOR (n:Field) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT job_tenant_key IF NOT EXISTS
FOR (n:Job) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT run_tenant_key IF NOT EXISTS
FOR (n:Run) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT model_tenant_key IF NOT EXISTS
FOR (n:Model) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT model_version_tenant_key IF NOT EXISTS
FOR (n:ModelVersion) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT training_job_tenant_key IF NOT EXISTS
FOR (n:TrainingJob) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT deployment_tenant_key IF NOT EXISTS
FOR (n:Deployment) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT metric_tenant_key IF NOT EXISTS
FOR (n:Metric) REQUIRE (n.tenant, n.key) IS UNIQUE;
CREATE CONSTRAINT prediction_tenant_key IF NOT EXISTS
FOR (n:Prediction) REQUIRE (n.tenant, n.key) IS UNIQUE;

// Listings (find_nodes) seek (tenant, _name) and walk it in name order. Labels that have a
// kind (schemas.SPECS[label].kind) also get (tenant, _kind) for kind filters.
CREATE INDEX person_tenant_name IF NOT EXISTS FOR (n:Person) ON (n.tenant, n._name);
CREATE INDEX team_tenant_name IF NOT EXISTS FOR (n:Team) ON (n.tenant, n._name);
CREATE INDEX project_tenant_name IF NOT EXISTS FOR (n:Project) ON (n.tenant, n._name);
CREATE INDEX artifact_tenant_name IF NOT EXISTS FOR (n:Artifact) ON (n.tenant, n._name);
CREATE INDEX dataset_tenant_name IF NOT EXISTS FOR (n:Dataset) ON (n.tenant, n._name);
CREATE INDEX field_tenant_name IF NOT EXISTS FOR (n:Field) ON (n.tenant, n._name);
CREATE INDEX job_tenant_name IF NOT EXISTS FOR (n:Job) ON (n.tenant, n._name);
CREATE INDEX run_tenant_name IF NOT EXISTS FOR (n:Run) ON (n.tenant, n._name);
CREATE INDEX model_tenant_name IF NOT EXISTS FOR (n:Model) ON (n.tenant, n._name);
CREATE INDEX model_version_tenant_name IF NOT EXISTS FOR (n:ModelVersion) ON (n.tenant, n._name);
CREATE INDEX training_job_tenant_name IF NOT EXISTS FOR (n:TrainingJob) ON (n.tenant, n._name);
CREATE INDEX deployment_tenant_name IF NOT EXISTS FOR (n:Deployment) ON (n.tenant, n._name);
CREATE INDEX metric_tenant_name IF NOT EXISTS FOR (n:Metric) ON (n.tenant, n._name);
CREATE INDEX prediction_tenant_name IF NOT EXISTS FOR (n:Prediction) ON (n.tenant, n._name);
CREATE INDEX project_tenant_kind IF NOT EXISTS FOR (n:Project) ON (n.tenant, n._kind);
CREATE INDEX artifact_tenant_kind IF NOT EXISTS FOR (n:Artifact) ON (n.tenant, n._kind);
CREATE INDEX field_tenant_kind IF NOT EXISTS FOR (n:Field) ON (n.tenant, n._kind);
CREATE INDEX run_tenant_kind IF NOT EXISTS FOR (n:Run) ON (n.tenant, n._kind);
CREATE INDEX model_version_tenant_kind IF NOT EXISTS FOR (n:ModelVersion) ON (n.tenant, n._kind);
CREATE INDEX training_job_tenant_kind IF NOT EXISTS FOR (n:TrainingJob) ON (n.tenant, n._kind);
CREATE INDEX deployment_tenant_kind IF NOT EXISTS FOR (n:Deployment) ON (n.tenant, n._kind);
CREATE INDEX metric_tenant_kind IF NOT EXISTS FOR (n:Metric) ON (n.tenant, n._kind);
CREATE INDEX prediction_tenant_kind IF NOT EXISTS FOR (n:Prediction) ON (n.tenant, n._kind);

// For full-text search by name later (db.index.fulltext.queryNodes('node_name', ...)).
CREATE FULLTEXT INDEX node_name IF NOT EXISTS FOR (n:Node) ON EACH [n._name];
