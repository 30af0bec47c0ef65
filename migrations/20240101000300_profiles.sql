-- A public profile per auth user, made by a trigger on auth.users when GoTrue creates the user
-- (sign-up, admin API, seeds alike). Security definer: the trigger runs as GoTrue's role.
create table public.profiles (
    id           uuid primary key references auth.users (id) on delete cascade,
    display_name text,
    created_at   timestamptz not null default now()
);

alter table public.profiles enable row level security;

create policy "profiles are readable by signed-in users" on public.profiles
    for select to authenticated
    using (true);
create policy "own profile: edit" on public.profiles
    for update to authenticated
    using ((select auth.uid()) = id)
    with check ((select auth.uid()) = id);

grant select, update (display_name) on public.profiles to authenticated;
grant all on public.profiles to service_role;

create function public.handle_new_user() returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    insert into public.profiles (id, display_name)
    values (new.id, coalesce(new.raw_user_meta_data ->> 'name', split_part(new.email, '@', 1)));
    return new;
end;
$$;

revoke execute on function public.handle_new_user() from public, anon, authenticated;

create trigger on_auth_user_created
    after insert on auth.users
    for each row execute function public.handle_new_user();
