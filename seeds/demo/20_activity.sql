-- Favourites and history for the demo users, found by email (their ids are GoTrue's).
insert into public.favourites (user_id, machine_id, note)
select u.id, m.id, case when m.id % 3 = 0 then 'shortlist' end
from auth.users u
join lateral (
    select id from public.machines
    where sku like 'DEMO-%' and (id + hashtext(u.email)) % 500 = 0
    limit 40
) m on true
where u.email like '%@example.com' and u.email not in ('alice@example.com', 'bob@example.com');

insert into public.view_history (user_id, machine_id, viewed_at)
select u.id,
       (select min(id) from public.machines where sku like 'DEMO-%')
           + (g * 101 + abs(hashtext(u.email)::bigint)) % 50000,
       timestamptz '2024-02-01 00:00:00+00' + g * interval '17 minutes'
from auth.users u, generate_series(1, 25000) as g
where u.email like '%@example.com' and u.email not in ('alice@example.com', 'bob@example.com');
