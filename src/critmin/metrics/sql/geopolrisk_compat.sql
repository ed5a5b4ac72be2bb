-- GeoPolRisk, compat mode: geopolrisk-py 2.0.1 reproduced to the last digit, quirks included
-- (critmin.metrics.geopolrisk_compat). DuckDB only: exact 128-bit integers, ordered list sums.
--
-- Parameters: $aliases (iso3, as_iso3) the codes the tool's numeric joins fold together;
-- $pv_unmatched the economies whose PV rows the tool cannot join; $regions (economy, member,
-- ord) user regions, members in the tool's order; $cf_cu the average copper CF; $economies,
-- $materials, $years the row filters (NULL: all). Slot: {{filter}} (geopolrisk.sql:filter).

-- name: compat
WITH
alias AS (
    SELECT a.iso3, a.as_iso3
    FROM (SELECT UNNEST(CAST($aliases AS STRUCT(iso3 VARCHAR, as_iso3 VARCHAR)[])) AS a) AS x
),
cc AS (SELECT iso3, CAST(baci_code AS INTEGER) AS code FROM countries WHERE baci_code IS NOT NULL),
mat AS (SELECT DISTINCT material, mineral, hs_code FROM material_hs_map),
materials AS (SELECT DISTINCT material, mineral FROM mat),
-- production in the tool's terms: the economy a row counts for, and whether it was folded in
prod AS (
    SELECT p.year, COALESCE(a.as_iso3, p.country) AS iso3, p.mineral, p.value, p.unit,
           a.iso3 IS NOT NULL AS folded
    FROM production p LEFT JOIN alias a ON a.iso3 = p.country
    WHERE p.source_id LIKE 'wmd%' AND p.country NOT IN ('WLD', 'XRW')  -- countries only
),
hhi AS (  -- exact integer arithmetic on the truncated figures, as the tool's int columns
    SELECT material, year, SUM(n * n) AS num, SUM(n) AS tot
    FROM (SELECT m.material, p.year, CAST(TRUNC(COALESCE(p.value, 0)) AS HUGEINT) AS n
          FROM prod p JOIN materials m ON m.mineral = p.mineral)
    GROUP BY material, year
),
own AS (  -- the tool's ProdQty: first row with the economy's code (a folded row sorts first)
    SELECT m.material, p.year, p.iso3,
           ARG_MAX(CASE WHEN p.unit = 'kg' THEN COALESCE(p.value, 0) / 1000
                        ELSE COALESCE(p.value, 0) END, p.folded) AS qty
    FROM prod p JOIN materials m ON m.mineral = p.mineral
    GROUP BY m.material, p.year, p.iso3
),
years AS (SELECT DISTINCT year FROM prod),
pv AS (
    -- the tool reads the first row with a numeric code: for Guyana's code that is the block
    -- the PV file mislabels (French Guiana's, relabelled GUF by critmin's WGI loader)
    SELECT g.year, COALESCE(a.as_iso3, g.country) AS iso3,
           MAX_BY(g.estimate, a.iso3 IS NOT NULL) AS pv
    FROM governance g LEFT JOIN alias a ON a.iso3 = g.country
    WHERE g.indicator = 'pv' AND g.source_id LIKE 'wgi-pv%'
      AND NOT COALESCE(LIST_CONTAINS(CAST($pv_unmatched AS VARCHAR[]), g.country), false)
    GROUP BY ALL
),
pv_known AS (SELECT DISTINCT iso3 FROM pv),
regions AS (
    SELECT r.economy, r.member, r.ord
    FROM (SELECT UNNEST(CAST($regions AS STRUCT(economy VARCHAR, member VARCHAR, ord INTEGER)[]))
          AS r) AS x
),
members AS (
    SELECT iso3 AS economy, iso3 AS member, 0 AS ord FROM cc
    UNION ALL SELECT economy, member, ord FROM regions
),
flows AS (
    SELECT t.year, t.importer, t.exporter, m.material,
           LIST(COALESCE(t.quantity_t, 0) ORDER BY t.hs_code) AS q,
           LIST(t.value_kusd ORDER BY t.hs_code) AS v
    FROM trade_flows t JOIN mat m ON m.hs_code = t.hs_code
    WHERE t.hs_revision = 'HS92' AND t.year IN (SELECT year FROM years)
    GROUP BY ALL
),
-- pandas' compensated (Kahan) group sum over the HS codes of one partner, in HS code order
flows2 AS (
    SELECT *,
        CASE len(q) WHEN 1 THEN q[1] WHEN 2 THEN q[1] + q[2]
             ELSE (q[1] + q[2]) + (q[3] - (((q[1] + q[2]) - q[1]) - q[2])) END AS qty,
        CASE len(v) WHEN 1 THEN v[1] WHEN 2 THEN v[1] + v[2]
             ELSE (v[1] + v[2]) + (v[3] - (((v[1] + v[2]) - v[1]) - v[2])) END AS val
    FROM flows
),
partner AS (
    SELECT e.economy, e.member, e.ord, f.year, f.material, f.qty, f.val, ec.code AS pcode,
        CASE WHEN f.exporter IN (SELECT member FROM members x WHERE x.economy = e.economy) THEN 0.0
             WHEN pv.pv IS NOT NULL THEN GREATEST(LEAST(
                 CASE WHEN f.year >= 2023 THEN (2.5 - pv.pv) / 5 ELSE 1 - (pv.pv + 2.5) / 5 END,
                 1.0), 0.0)
             WHEN f.exporter IN (SELECT iso3 FROM pv_known) THEN 0.0
             ELSE 0.5 END AS g
    FROM members e JOIN flows2 f ON f.importer = e.member
    LEFT JOIN cc ec ON ec.iso3 = f.exporter
    LEFT JOIN pv ON pv.iso3 = f.exporter AND pv.year = f.year
),
per_member AS (
    SELECT economy, member, ord, year, material,
        LIST_REDUCE(LIST(qty * g ORDER BY pcode), lambda a, b: a + b) AS num,
        LIST_REDUCE(LIST(qty ORDER BY pcode), lambda a, b: a + b) AS qty,
        LIST_REDUCE(LIST(val ORDER BY pcode), lambda a, b: a + b) AS val
    FROM partner GROUP BY ALL
),
grid AS (
    SELECT e.economy, e.member, e.ord, y.year, m.material, m.mineral
    FROM members e CROSS JOIN years y CROSS JOIN materials m
),
member_rows AS (
    SELECT g.economy, g.ord, g.year, g.material,
           COALESCE(pm.num, 0.0) AS num, COALESCE(pm.qty, 0.0) AS qty,
           COALESCE(pm.val, 0.0) AS val, COALESCE(o.qty, 0.0) AS p
    FROM grid g
    LEFT JOIN per_member pm ON pm.economy = g.economy AND pm.member = g.member
         AND pm.year = g.year AND pm.material = g.material
    LEFT JOIN own o ON o.iso3 = g.member AND o.year = g.year AND o.material = g.material
),
agg AS (
    SELECT economy, year, material,
        LIST_REDUCE(LIST(num ORDER BY ord), lambda a, b: a + b) AS num,
        LIST_REDUCE(LIST(qty ORDER BY ord), lambda a, b: a + b) AS qty,
        LIST_REDUCE(LIST(val ORDER BY ord), lambda a, b: a + b) AS val,
        LIST_REDUCE(LIST(p ORDER BY ord), lambda a, b: a + b) AS p
    FROM member_rows GROUP BY ALL
),
res AS (
    SELECT a.economy, a.material, a.year,
        CASE WHEN h.tot > 0 THEN CAST(h.num AS DOUBLE) / CAST(h.tot * h.tot AS DOUBLE) END AS hhi,
        CASE WHEN a.qty + a.p = 0 THEN 0.0 ELSE a.num / (a.qty + a.p) END AS wta,
        CASE WHEN a.qty = 0 THEN 0.0 ELSE a.val / a.qty END AS price
    FROM agg a LEFT JOIN hhi h ON h.material = a.material AND h.year = a.year
),
scores AS (
    SELECT economy, material, CAST(year AS BIGINT) AS year, hhi,
           CASE WHEN hhi IS NOT NULL THEN wta END AS import_risk,
           hhi * wta AS score,
           CASE WHEN hhi IS NOT NULL THEN price END AS price,
           (hhi * wta * price) / CAST($cf_cu AS DOUBLE) AS cf,
           CASE WHEN hhi IS NULL THEN 'no_production' ELSE '' END AS flags
    FROM res
)
{{filter}}

-- name: materials
SELECT DISTINCT material FROM material_hs_map
