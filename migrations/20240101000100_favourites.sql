-- Per-user favourites: each signed-in user sees and changes only their own rows. The owner
-- defaults to the caller (auth.uid(), from the JWT's sub claim), so clients never send it.
create table public.favourites (
    user_id    uuid not null default auth.uid() references auth.users (id) on delete cascade,
    machine_id bigint not null references public.machines (id) on delete cascade,
    note       text check (char_length(note) <= 500),
    created_at timestamptz not null default now(),
    primary key (user_id, machine_id)
);

create index favourites_machine_idx on public.favourites (machine_id);

alter table public.favourites enable row level security;

-- `(select auth.uid())` is evaluated once per statement, not once per row.
create policy "own favourites: read" on public.favourites
    for select to authenticated
    using ((select auth.uid()) = user_id);
create policy "own favourites: add" on public.favourites
    for insert to authenticated
    with check ((select auth.uid()) = user_id);
create policy "own favourites: edit" on public.favourites
    for update to authenticated
    using ((select auth.uid()) = user_id)
    with check ((select auth.uid()) = user_id);
create policy "own favourites: remove" on public.favourites
    for delete to authenticated
    using ((select auth.uid()) = user_id);

grant select, insert, update, delete on public.favourites to authenticated;
grant all on public.favourites to service_role;
