-- A few weeks of browsing for each default user, deterministic (no random()).
insert into public.view_history (user_id, machine_id, viewed_at)
select u.id,
       1 + (g * 37 + u.n * 11) % 3000,
       timestamptz '2024-01-01 09:00:00+00' + g * interval '3 hours'
from (values ('0a11ce00-0000-4000-8000-000000000001'::uuid, 1),
             ('0b0b0000-0000-4000-8000-000000000002'::uuid, 2)) as u (id, n),
     generate_series(1, 120) as g;
