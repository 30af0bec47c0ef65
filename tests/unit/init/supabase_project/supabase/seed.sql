insert into public.todos (title) values ('buy milk'), ('write tests');
