-- What each user looked at, newest first: append-only for the user, readable only by its owner.
create table public.view_history (
    id         bigint generated always as identity primary key,
    user_id    uuid not null default auth.uid() references auth.users (id) on delete cascade,
    machine_id bigint not null references public.machines (id) on delete cascade,
    viewed_at  timestamptz not null default now()
);

create index view_history_user_time_idx on public.view_history (user_id, viewed_at desc);

alter table public.view_history enable row level security;

create policy "own history: read" on public.view_history
    for select to authenticated
    using ((select auth.uid()) = user_id);
create policy "own history: record" on public.view_history
    for insert to authenticated
    with check ((select auth.uid()) = user_id);

grant select, insert on public.view_history to authenticated;
grant all on public.view_history to service_role;
