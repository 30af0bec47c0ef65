create table public.tags (name text primary key);
