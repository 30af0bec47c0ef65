-- 50,000 more machines, generated in the database (a committed CSV this size would be ~4 MB).
insert into public.machines (sku, name, category, manufacturer, year, price_cents, specs)
select format('DEMO-%s', lpad(g::text, 6, '0')),
       format('%s Series %s', m.maker, g % 997),
       (array['lathe', 'mill', 'drill', 'grinder', 'saw', 'press', 'router', 'laser'])[1 + g % 8],
       m.maker,
       1975 + g % 50,
       50000 + (g * 7919) % 25000000,
       jsonb_build_object('power_kw', round(((g % 450) / 10.0 + 0.5)::numeric, 1),
                          'weight_kg', 20 + (g * 31) % 12000, 'cnc', g % 5 < 2)
from generate_series(1, 50000) as g,
     lateral (select (array['Acme Tooling', 'Bolt & Sons', 'Cogsworth', 'Dynamo Works',
                            'Ferro GmbH', 'Gearhart', 'Helix Machines', 'Ironclad'])[1 + g % 8]
                     as maker) as m;
