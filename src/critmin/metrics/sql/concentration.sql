-- Production concentration (critmin.metrics.concentration.production_concentration): per
-- mineral, stage, year, unit and basis, the world total (named countries plus the publisher's
-- rest of world, or its published world total), HHI, top-1 and top-3 shares of that total, the
-- largest producer and the part of the total whose figures are estimates. DuckDB dialect; on
-- Spark transpiled by sqlglot.
--
-- Input: the production rows to count, as a relation named prod_input (one source family per
-- mineral and stage). Formulas: world_total, world_total_flag and share of
-- critmin.metrics.formulas (calc_world_total, calc_shares). Slots: {{estimated}} (whether a row
-- is an estimate: estimated_flag with the atlas's estimated and flag columns, estimated_only
-- without flag, not_estimated for rows without either).

-- name: ctes
p AS (SELECT * FROM prod_input WHERE value IS NOT NULL),
named AS (
    SELECT mineral, stage, year, unit, basis, SUM(value) AS named_t
    FROM p WHERE country NOT IN ('WLD', 'XRW') GROUP BY mineral, stage, year, unit, basis
),
rest AS (
    SELECT mineral, stage, year, unit, basis, SUM(value) AS rest_t
    FROM p WHERE country = 'XRW' GROUP BY mineral, stage, year, unit, basis
),
pub AS (
    SELECT mineral, stage, year, unit, basis, MAX(value) AS published_t
    FROM p WHERE country = 'WLD' GROUP BY mineral, stage, year, unit, basis
),
totals0 AS (
    SELECT n.mineral, n.stage, n.year, n.unit, n.basis, n.named_t, r.rest_t, w.published_t
    FROM named n
    LEFT JOIN rest r ON r.mineral = n.mineral AND r.stage = n.stage AND r.year = n.year
        AND r.unit = n.unit AND r.basis = n.basis
    LEFT JOIN pub w ON w.mineral = n.mineral AND w.stage = n.stage AND w.year = n.year
        AND w.unit = n.unit AND w.basis = n.basis
),
totals AS (
    SELECT *, {{world_total(named_t, rest_t, published_t)}} AS world_t,
           {{world_total_flag(named_t, rest_t, published_t)}} AS total_flag
    FROM totals0
),
supplier AS (
    SELECT mineral, stage, year, unit, basis, country, SUM(value) AS value
    FROM p WHERE country NOT IN ('WLD', 'XRW') AND value > 0
    GROUP BY mineral, stage, year, unit, basis, country
),
shares AS (
    SELECT s.mineral, s.stage, s.year, s.unit, s.basis, s.country, s.value,
           {{share(s.value, t.world_t)}} AS share,
           ROW_NUMBER() OVER (PARTITION BY s.mineral, s.stage, s.year, s.unit, s.basis
                              ORDER BY s.value DESC, s.country ASC) AS rk
    FROM supplier s JOIN totals t ON t.mineral = s.mineral AND t.stage = s.stage
        AND t.year = s.year AND t.unit = s.unit AND t.basis = s.basis
),
agg AS (
    SELECT mineral, stage, year, unit, basis,
           COUNT(DISTINCT country) AS n_suppliers,
           SUM(share * share) AS hhi,
           MAX(share) AS top1_share,
           SUM(CASE WHEN rk <= 3 THEN share ELSE 0.0 END) AS top3_share,
           MIN(CASE WHEN rk = 1 THEN country END) AS top_supplier
    FROM shares GROUP BY mineral, stage, year, unit, basis
),
est_rows AS (
    SELECT mineral, stage, year, unit, basis, country, SUM(value) AS value,
           BOOL_OR({{estimated}}) AS est
    FROM p WHERE value > 0 AND country <> 'WLD'
    GROUP BY mineral, stage, year, unit, basis, country
),
est AS (
    SELECT mineral, stage, year, unit, basis,
           SUM(CASE WHEN est THEN value END) AS estimated_t
    FROM est_rows GROUP BY mineral, stage, year, unit, basis
),
result AS (
    SELECT a.mineral, a.stage, a.year, a.unit, a.basis, t.world_t AS total, a.n_suppliers,
           a.hhi, a.top1_share, a.top3_share, a.top_supplier, a.hhi * 10000 AS hhi_points,
           t.named_t AS named_total, t.rest_t AS rest_of_world,
           t.published_t AS published_total, t.total_flag,
           COALESCE(e.est, false) AS top_estimated,
           {{share(COALESCE(x.estimated_t, 0.0), t.world_t)}} AS estimated_share
    FROM agg a
    JOIN totals t ON t.mineral = a.mineral AND t.stage = a.stage AND t.year = a.year
        AND t.unit = a.unit AND t.basis = a.basis
    LEFT JOIN est x ON x.mineral = a.mineral AND x.stage = a.stage AND x.year = a.year
        AND x.unit = a.unit AND x.basis = a.basis
    LEFT JOIN est_rows e ON e.mineral = a.mineral AND e.stage = a.stage AND e.year = a.year
        AND e.unit = a.unit AND e.basis = a.basis AND e.country = a.top_supplier
)

-- name: estimated_flag
COALESCE(estimated, false) OR COALESCE(flag = 'provisional', false)

-- name: estimated_only
COALESCE(estimated, false)

-- name: not_estimated
false

-- name: concentration
-- the concentration view of critmin.reports.views.concentration: the production rows of one
-- source family per mineral and stage ($family 'auto': per mineral and stage the first family
-- of $preference (stage, family, rk) with rows; else the rows of family $family), of mineral
-- $mineral (NULL: all), then the concentration of those rows
WITH
pref AS (
    SELECT r.stage, r.family, r.rk
    FROM (SELECT UNNEST(CAST($preference AS STRUCT(stage VARCHAR, family VARCHAR, rk INTEGER)[]))
          AS r) AS x
),
cand AS (
    SELECT c.mineral, c.stage, c.family, f.rk,
           MIN(f.rk) OVER (PARTITION BY c.mineral, c.stage) AS best
    FROM (SELECT DISTINCT pr.mineral, pr.stage, s.family
          FROM production pr JOIN sources s ON s.source_id = pr.source_id
          WHERE CAST($mineral AS VARCHAR) IS NULL
                OR pr.mineral = CAST($mineral AS VARCHAR)) AS c
    LEFT JOIN pref f ON f.stage = c.stage AND f.family = c.family
),
chosen AS (
    SELECT mineral, stage, family FROM cand
    WHERE CASE WHEN CAST($family AS VARCHAR) = 'auto' THEN rk IS NOT NULL AND rk = best
               ELSE family = CAST($family AS VARCHAR) END
),
prod_input AS (
    SELECT pr.* FROM production pr
    JOIN sources s ON s.source_id = pr.source_id
    JOIN chosen c ON c.mineral = pr.mineral AND c.stage = pr.stage AND c.family = s.family
),
{{ctes}}
SELECT * FROM result ORDER BY mineral, stage, year, unit, basis

-- name: production_concentration
-- production_concentration of the rows of relation prod_input (the Ibis wrapper)
WITH
{{ctes}}
SELECT * FROM result
